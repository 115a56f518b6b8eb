using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;

namespace RagCluster.Grains.Documents;

/// <summary>
/// One document of a bulk write: its new record (from BeginBulk) and its chunks. <see cref="Replaces"/>: an earlier
/// version may hold chunks on shards the new ones miss, so every shard is told.
/// </summary>
public sealed record BulkWrite(int Index, string Id, DocumentRecord Record, ChunkRecord[] Chunks, bool Replaces);

/// <summary>The end of every bulk write (own vectors, texts): each shard takes its share in one call, then the collection registers them in one.</summary>
public static class BulkShardWrites
{
    /// <summary>
    /// Writes the documents' chunks to each shard of each layout the collection writes (two while it reshards; one call a
    /// shard), then registers those every shard took (<c>EndBulk</c>, one call). A document whose shard failed is
    /// refused (its in-flight note stays for the sweep), the others go on. Returns each write's refusal (null: stored and
    /// registered); a collection deleted meanwhile (or dropped and created again since <paramref name="acceptedBy"/>, the
    /// creation that accepted them) refuses all with CollectionGoneException, their chunks removed again.
    /// </summary>
    public static async Task<Dictionary<int, Exception?>> WriteAsync(IGrainFactory grains, string collectionKey, CollectionSettings settings,
        List<BulkWrite> writes, Func<Exception, bool> refusable, long? acceptedBy = null)
    {
        var outcome = new Dictionary<int, Exception?>();
        var collection = grains.GetGrain<ICollectionRegistryGrain>(collectionKey);
        var incarnation = acceptedBy ?? settings.Incarnation; // the creation that accepted them, even if the layouts are read again
        for (var attempt = 1; writes.Count > 0; attempt++)
        {
            var step = System.Diagnostics.Stopwatch.GetTimestamp();
            var failed = new Dictionary<int, Exception>();
            var calls = new List<Task>();
            foreach (var layout in settings.WriteLayouts)
            {
                var byShard = new Dictionary<int, List<(BulkWrite Write, ShardUpsert Upsert)>>();
                foreach (var w in writes)
                {
                    var mine = w.Chunks.GroupBy(c => ShardRouting.ShardOf(c.ChunkId, layout.ShardCount)).ToDictionary(g => g.Key, g => g.ToArray());
                    foreach (var shard in w.Replaces ? Enumerable.Range(0, layout.ShardCount) : mine.Keys)
                        (byShard.TryGetValue(shard, out var list) ? list : byShard[shard] = []).Add((w, new ShardUpsert(w.Id, w.Record.Version, mine.GetValueOrDefault(shard) ?? [])));
                }
                foreach (var (shard, share) in byShard)
                {
                    var grain = grains.GetGrain<IIndexShardGrain>(layout.ShardKey(collectionKey, shard));
                    var upserts = share.Select(s => s.Upsert).ToArray();
                    calls.Add(Catching(layout == settings.ReshardingTo ? grain.Merge(upserts) : grain.UpsertMany(upserts), e =>
                    {
                        lock (failed) foreach (var (w, _) in share) failed[w.Index] = e;
                    }));
                }
            }
            await Task.WhenAll(calls);
            step = RagMetrics.BatchStep("writing_shards", step);
            foreach (var (index, e) in failed) outcome[index] = e;
            writes = writes.Where(w => !failed.ContainsKey(w.Index)).ToList();
            if (writes.Count == 0) break;
            // The record says which of the serving layout's shards hold the chunks, so a later change tells only those,
            // and when the document was indexed (a text's acceptance may be long before).
            var (layoutNow, indexedAt) = (settings.Layout, DateTimeOffset.UtcNow);
            var records = writes.Select(w => w.Record with
            {
                Pending = false, ChunkCount = w.Chunks.Length, LayoutGeneration = layoutNow.Generation, ShardCount = layoutNow.ShardCount, UpdatedAt = indexedAt,
                HeldShards = w.Chunks.Select(c => ShardRouting.ShardOf(c.ChunkId, layoutNow.ShardCount)).Distinct().Order().ToArray(),
            }).ToArray();
            try
            {
                var registered = await collection.EndBulk(writes.Select(w => w.Id).ToArray(), records,
                    settings.WriteLayouts.Select(l => l.Generation).ToArray(), incarnation);
                RagMetrics.BatchStep("registering", step);
                if (!registered) await RemoveAsync(grains, collectionKey, settings, writes);
                var gone = registered ? null : new CollectionGoneException($"collection '{collectionKey}' was deleted");
                foreach (var w in writes) outcome[w.Index] = gone;
                if (registered)
                {
                    var chunks = writes.Sum(w => w.Chunks.Length);
                    RagMetrics.Ingests.Add(writes.Count, RagMetrics.Tag("outcome", "indexed"));
                    RagMetrics.IngestedChunks.Add(chunks);
                    RagMetrics.IndexedDocumentsRate.Add(writes.Count);
                    RagMetrics.IndexedChunksRate.Add(chunks);
                }
                break;
            }
            catch (ShardLayoutChangedException) when (attempt < 5)
            {
                settings = await collection.GetSettings(); // a reshard began or ended: write the layouts it names now
            }
            catch (Exception e) when (refusable(e))
            {
                // In the shards but perhaps not registered: the sweep settles own vectors, the text path tries again.
                foreach (var w in writes) outcome[w.Index] = e;
                break;
            }
        }
        return outcome;
    }

    // The collection was deleted while the chunks went in: they leave the shards again.
    private static async Task RemoveAsync(IGrainFactory grains, string collectionKey, CollectionSettings settings, List<BulkWrite> writes)
    {
        var removals = settings.WriteLayouts.SelectMany(layout => writes.SelectMany(w =>
            w.Chunks.Select(c => ShardRouting.ShardOf(c.ChunkId, layout.ShardCount)).Distinct()
                .Select(shard => grains.GetGrain<IIndexShardGrain>(layout.ShardKey(collectionKey, shard)).RemoveDocument(w.Id, w.Record.Version))));
        await Catching(Task.WhenAll(removals), _ => { });
    }

    private static async Task Catching(Task call, Action<Exception> onError)
    {
        try { await call; }
        catch (Exception e) { onError(e); }
    }
}
