using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Cli;

// A tenant's share: what it may store (an operator sets it) and what it stores.
public static partial class Commands
{
    public static async Task<int> SetTenantLimits(IRagBackend backend, string tenant, TenantLimits limits, CancellationToken ct)
    {
        var set = await backend.SetTenantLimitsAsync(tenant, limits, ct);
        Console.WriteLine($"tenant '{tenant}' may hold: collections {Limit(set.Collections)}, documents {Limit(set.Documents)}, vectors {Limit(set.Vectors)}, bytes {Limit(set.Bytes)}");
        return 0;
    }

    public static async Task<int> TenantUsage(IRagBackend backend, string tenant, CancellationToken ct)
    {
        var u = await backend.TenantUsageAsync(tenant, ct);
        Console.WriteLine($"tenant '{u.Tenant}'        holds   may hold");
        foreach (var (name, held, max) in new[] { ("collections", u.Collections, u.Limits.Collections), ("documents", u.Stored.Documents, u.Limits.Documents),
                     ("vectors", u.Stored.Vectors, u.Limits.Vectors), ("bytes", u.Stored.Bytes, u.Limits.Bytes) })
            Console.WriteLine($"  {name,-12} {held,12:N0}   {Limit(max)}");
        foreach (var (collection, s) in u.ByCollection.OrderBy(c => c.Key, StringComparer.Ordinal))
            Console.WriteLine($"  {collection,-24} {s.Documents,10:N0} documents {s.Vectors,10:N0} vectors {s.Bytes,14:N0} bytes");
        return 0;
    }

    private static string Limit(long? max) => max is { } m ? m.ToString("N0") : "unlimited";
}
