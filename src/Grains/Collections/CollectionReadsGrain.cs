using Orleans.Concurrency;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Security;
using RagCluster.Metadata;

namespace RagCluster.Grains.Collections;

/// <summary>
/// The read door of a collection's documents (see <see cref="ICollectionReadsGrain"/>): every read but a search trims
/// here, by <see cref="DocumentAccess"/> against the collection's access field as it is now. Reentrant and a stateless
/// worker: reads of one collection do not queue behind each other, and each runs on the silo that asked.
/// </summary>
[Reentrant, StatelessWorker]
public sealed class CollectionReadsGrain : Grain, ICollectionReadsGrain
{
    private string Key => this.GetPrimaryKeyString();

    private ICollectionGrain Collection => GrainFactory.GetGrain<ICollectionGrain>(Key);

    public async Task<CollectionView> Info(ReadAccess caller)
    {
        var info = await Collection.GetInfo();
        return new CollectionView(info, DocumentAccess.For(info.Settings.AccessField, caller).Open);
    }

    public async Task<DocumentStatus[]> Statuses(string[] documentIds, ReadAccess caller)
    {
        if (documentIds.Length == 0) return [];
        var (statuses, settings) = (DocumentBatch.StatusesAsync(GrainFactory, Key, documentIds), Collection.GetSettings());
        var access = DocumentAccess.For((await settings).AccessField, caller);
        // Nothing of a hidden one shows (version, chunks, error): it reads as an id never written.
        return (await statuses).Select((s, i) => access.Sees(s.Tags) ? s
            : new DocumentStatus(Key, documentIds[i], DocumentStatuses.Unknown, 0, 0, null, null, default)).ToArray();
    }

    public async Task<HeldDocument[]> Contents(string[] documentIds, bool includeVectors, ReadAccess caller)
    {
        var settings = await Collection.GetSettings();
        var access = DocumentAccess.For(settings.AccessField, caller);
        if (access.Nothing) return [];
        var pages = await Task.WhenAll(settings.Layout.ShardKeys(Key).Select(k => GrainFactory.GetGrain<IIndexShardGrain>(k).Documents(documentIds, includeVectors)));
        // A document's chunks may sit on several shards; a shard still holding an older version is about to drop it.
        var versions = pages.SelectMany(p => p.DocumentVersions).GroupBy(v => v.Key).ToDictionary(g => g.Key, g => g.Max(v => v.Value));
        return documentIds.Where(versions.ContainsKey).Select(id => (Id: id, Chunks: pages.Where(p => p.DocumentVersions.GetValueOrDefault(id) == versions[id])
                .SelectMany(p => p.Chunks).Where(ch => ch.DocumentId == id).OrderBy(ch => ch.Ordinal).ToArray()))
            .Where(d => access.Sees(d.Chunks.FirstOrDefault()?.Tags))
            .Select(d => new HeldDocument(d.Id, versions[d.Id], d.Chunks.FirstOrDefault()?.Tags ?? [], d.Chunks)).ToArray();
    }

    /// <summary>
    /// Without a filter (or one that matches everything) the registry's page; with one, the documents the index holds
    /// with a chunk it matches, from each shard's tag index, merged. A caller who does not see every document gets the
    /// trim joined to its filter, so the tag index answers (never the registry, which lists every document).
    /// </summary>
    public async Task<DocumentPage> Page(string? filter, string? after, int limit, ReadAccess caller)
    {
        var settings = await Collection.GetSettings();
        var (term, problem) = FilterParser.Parse(filter, settings.Fields);
        if (problem is not null) throw new InvalidRequestException(problem);
        var access = DocumentAccess.For(settings.AccessField, caller);
        if (access.Nothing) return new DocumentPage([], null);
        term = access.Trim(term);
        if (term is null) return await Collection.ListDocuments(after, limit);
        var pages = await Task.WhenAll(settings.Layout.ShardKeys(Key).Select(k => GrainFactory.GetGrain<IIndexShardGrain>(k).MatchingDocuments(term, after, limit)));
        var ids = pages.SelectMany(p => p).Distinct().Order(StringComparer.Ordinal).Take(limit).ToArray();
        return new DocumentPage(ids, ids.Length == limit ? ids[^1] : null);
    }
}
