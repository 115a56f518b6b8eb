using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.Security;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;

namespace RagCluster.Grains.Collections;

/// <summary>
/// Deleting a collection: every document first (their chunks leave every shard), then the collection itself and
/// its entry in the tenant's list. Safe to repeat after a failure part-way: deleted documents stay deleted.
/// </summary>
public static class CollectionDeletion
{
    public static async Task<int> DeleteAsync(IGrainFactory grains, string tenant, string collection, CancellationToken ct = default)
    {
        var key = TenantScope.CollectionKey(tenant, collection);
        var grain = grains.GetGrain<ICollectionGrain>(key);
        var info = await grain.GetInfo();
        foreach (var batch in info.DocumentIds.Chunk(32))
        {
            ct.ThrowIfCancellationRequested();
            await Task.WhenAll(batch.Select(id => grains.GetGrain<IDocumentGrain>($"{key}/{id}").Delete()));
        }
        await grain.Drop();
        await grains.GetGrain<ITenantGrain>(tenant).RemoveCollection(collection);
        return info.DocumentIds.Length;
    }
}
