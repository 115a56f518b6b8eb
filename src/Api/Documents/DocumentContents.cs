using RagCluster.Api.Collections;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Metadata;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Documents;

/// <summary>Documents read back as the index holds them, from every shard of their collection.</summary>
public static class DocumentContents
{
    /// <summary>
    /// The documents of <paramref name="ids"/> the index holds and the caller may see (<see cref="CollectionRef.Access"/>,
    /// tested on the tags the index holds), in that order; the others are left out.
    /// </summary>
    public static async Task<DocumentContent[]> ReadAsync(IGrainFactory grains, CollectionRef c, string[] ids, bool includeVectors)
    {
        var settings = await grains.GetGrain<ICollectionGrain>(c.Key).GetSettings();
        var access = DocumentAccess.For(settings.AccessField, c.Access);
        if (access.Nothing) return [];
        var pages = await Task.WhenAll(settings.Layout.ShardKeys(c.Key).Select(k => grains.GetGrain<IIndexShardGrain>(k).Documents(ids, includeVectors)));
        // A document's chunks may sit on several shards; a shard still holding an older version is about to drop it.
        var versions = pages.SelectMany(p => p.DocumentVersions).GroupBy(v => v.Key).ToDictionary(g => g.Key, g => g.Max(v => v.Value));
        return ids.Where(versions.ContainsKey).Select(id =>
        {
            var chunks = pages.Where(p => p.DocumentVersions.GetValueOrDefault(id) == versions[id]).SelectMany(p => p.Chunks)
                .Where(ch => ch.DocumentId == id).OrderBy(ch => ch.Ordinal).ToArray();
            return (Id: id, Chunks: chunks);
        }).Where(d => access.Sees(d.Chunks.FirstOrDefault()?.Tags)).Select(d =>
        {
            var (id, chunks) = d;
            return new DocumentContent(id, versions[id], TagRules.ToJson(chunks.FirstOrDefault()?.Tags ?? []),
                chunks.Select(ch => new ChunkContent(ch.ChunkId, ch.Ordinal, ch.Text, ch.Start, ch.End, ch.HeadingPath, ch.Vector)).ToArray());
        }).ToArray();
    }
}
