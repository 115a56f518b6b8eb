namespace RagCluster.Grains.Interfaces.Security;

/// <summary>Key: tenant name. The tenant's key ids and collection names, for listing.</summary>
[Alias("rc.ITenantGrain")]
public interface ITenantGrain : IGrainWithStringKey
{
    Task AddKey(string keyId);
    Task<string[]> KeyIds();
    Task AddCollection(string collection);
    Task RemoveCollection(string collection);
    Task<string[]> Collections();
}
