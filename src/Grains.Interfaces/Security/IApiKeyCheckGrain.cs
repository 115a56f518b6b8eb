namespace RagCluster.Grains.Interfaces.Security;

/// <summary>
/// Key: any (the API uses "checks"). A presented key's check, asked of its key grain; a local stateless worker, so
/// while that grain does not answer (its silo died a moment ago), this silo's last check of the same key stands in
/// (at most Query:LastKnownForSeconds old) and a request does not wait for the cluster to declare the silo dead.
/// </summary>
[Alias("rc.IApiKeyCheckGrain")]
public interface IApiKeyCheckGrain : IGrainWithStringKey
{
    /// <summary>The check of the key <paramref name="keyId"/> with <paramref name="secret"/>, fresh or as last known.</summary>
    Task<ApiKeyCheck> Verify(string keyId, string secret);
}
