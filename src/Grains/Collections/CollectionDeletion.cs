using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.Security;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;

namespace RagCluster.Grains.Collections;

/// <summary>
/// Deleting a collection: it stops taking documents (stored first), then every document goes (their chunks leave every
/// shard), then the collection itself and its entry in the tenant's list. Each step is stored before the next, and
/// each is safe to repeat, so a delete that fails part-way is finished by calling it again. A document whose indexing
/// was running when the delete began finds its registration refused and deletes itself.
/// </summary>
public static class CollectionDeletion
{
    public static async Task<int> DeleteAsync(IGrainFactory grains, string tenant, string collection, CancellationToken ct = default)
    {
        var key = TenantScope.CollectionKey(tenant, collection);
        var grain = grains.GetGrain<ICollectionGrain>(key);
        await grain.BeginDelete();
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
