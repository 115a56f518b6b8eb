using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Security;

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
        var deleted = 0;
        await foreach (var page in grain.DocumentPagesAsync())
            foreach (var batch in page.Chunk(32))
            {
                ct.ThrowIfCancellationRequested();
                await Task.WhenAll(batch.Select(id => grains.Document(key, id).Delete()));
                deleted += batch.Length;
            }
        await grain.Drop();
        await grains.GetGrain<ITenantGrain>(tenant).RemoveCollection(collection);
        return deleted;
    }
}
