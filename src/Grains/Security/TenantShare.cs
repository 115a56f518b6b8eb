using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Security;

/// <summary>
/// A write's place in its tenant's share: set aside before the collection accepts any of it (so a write that would pass
/// a limit is refused whole, and two writes in flight cannot pass one together), and released once the collection has
/// counted it. Disposing releases it; one never released lapses (ITenantGrain.Reserve).
/// </summary>
public sealed class TenantShare : IAsyncDisposable
{
    private readonly ITenantGrain? _tenant;
    private readonly long _reservation;

    private TenantShare(ITenantGrain? tenant, long reservation) => (_tenant, _reservation) = (tenant, reservation);

    /// <summary>
    /// Sets aside what accepting <paramref name="documentIds"/> with <paramref name="sizes"/> adds to the collection.
    /// TenantLimitExceededException when it would pass a limit. A tenant without limits costs one read of them.
    /// </summary>
    public static async Task<TenantShare> ReserveAsync(IGrainFactory grains, string collectionKey, string[] documentIds, StoredUsage[] sizes)
    {
        var (tenantName, collection) = TenantScope.Split(collectionKey);
        var tenant = grains.GetGrain<ITenantGrain>(tenantName);
        if ((await tenant.GetLimits()) is { Documents: null, Vectors: null, Bytes: null }) return new TenantShare(null, 0);
        var growth = await grains.GetGrain<ICollectionRegistryGrain>(collectionKey).Growth(documentIds, sizes);
        return new TenantShare(tenant, await tenant.Reserve(collection, growth.Growth));
    }

    public async ValueTask DisposeAsync()
    {
        if (_tenant is null || _reservation == 0) return;
        try
        {
            await _tenant.Release(_reservation);
        }
        catch (Exception)
        {
            // It lapses within a minute; until then the tenant counts the write twice, never not at all.
        }
    }
}
