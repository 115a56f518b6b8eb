namespace RagCluster.Grains.Interfaces.Security;

/// <summary>Key: the key id (the public part of an API key). Holds only a hash of the secret.</summary>
[Alias("rc.IApiKeyGrain")]
public interface IApiKeyGrain : IGrainWithStringKey
{
    Task<ApiKeyInfo> Create(string tenant, string role, string description, string[]? groups = null);
    /// <summary>Replaces the key's groups; the API's key checks see them within Auth:CacheSeconds.</summary>
    Task<ApiKeyInfo> SetGroups(string[] groups);
    Task<ApiKeyCheck> Verify(string secret);
    /// <summary>Replaces the secret: the old one stops working at once.</summary>
    Task<ApiKeyInfo> Rotate();
    Task<ApiKeyInfo> Revoke();
    Task<ApiKeyInfo?> GetInfo();
}
