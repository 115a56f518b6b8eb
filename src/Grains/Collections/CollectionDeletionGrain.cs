using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Aliases;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Collections;

/// <summary>
/// Deleting a collection (<see cref="ICollectionDeletionGrain"/>). Reentrant: a second delete of the same collection
/// runs beside the first, as each step is safe to repeat. A document whose indexing was running when the delete began
/// finds its registration refused and deletes itself.
/// </summary>
[Reentrant]
public sealed class CollectionDeletionGrain : Grain, ICollectionDeletionGrain
{
    public async Task<int> Delete(CancellationToken cancellationToken = default)
    {
        var key = this.GetPrimaryKeyString();
        var (tenant, collection) = TenantScope.Split(key);
        // Aliases and collections share one namespace: an alias left naming a deleted collection would answer 404s.
        if ((await GrainFactory.GetGrain<IAliasesGrain>(tenant).List()).FirstOrDefault(a => a.Collection == collection) is { } alias)
            throw new ConflictException("Collection aliased", $"alias '{alias.Alias}' names '{collection}': move the alias (PUT /v1/aliases/{alias.Alias}) or delete it first");
        var grain = GrainFactory.GetGrain<ICollectionGrain>(key);
        await grain.BeginDelete();
        var deleted = 0;
        await foreach (var page in grain.DocumentPagesAsync())
            foreach (var batch in page.Chunk(32))
            {
                cancellationToken.ThrowIfCancellationRequested();
                await Task.WhenAll(batch.Select(id => GrainFactory.Document(key, id).Delete()));
                deleted += batch.Length;
            }
        await grain.Drop();
        await GrainFactory.GetGrain<ITenantGrain>(tenant).RemoveCollection(collection);
        DeactivateOnIdle(); // nothing kept: the next delete of a collection of this name starts afresh
        return deleted;
    }
}
