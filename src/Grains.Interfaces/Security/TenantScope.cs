namespace RagCluster.Grains.Interfaces.Security;

/// <summary>
/// Collections belong to tenants: the grain key of a tenant's collection is "tenant.collection". Neither name may
/// contain '.', so the key is unambiguous, and a tenant can only ever name keys inside its own scope — another
/// tenant's collection of the same name is simply a different, absent grain (404, no existence leak).
/// </summary>
public static class TenantScope
{
    /// <summary>The tenant of the embedded CLI and of the bootstrap admin key unless configured otherwise.</summary>
    public const string DefaultTenant = "default";

    public static string CollectionKey(string tenant, string collection) => $"{tenant}.{collection}";

    /// <summary>The tenant and collection names of a collection's grain key.</summary>
    public static (string Tenant, string Collection) Split(string collectionKey)
    {
        var dot = collectionKey.IndexOf('.');
        return dot < 0 ? (DefaultTenant, collectionKey) : (collectionKey[..dot], collectionKey[(dot + 1)..]);
    }
}
