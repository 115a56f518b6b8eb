using System.Diagnostics;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Security;

namespace RagCluster.Grains.Querying;

// The fan-out: every shard (any copy, or the ones holding the caller's writes) asked at once, the query embedded meanwhile.
public sealed partial class QueryPlanGrain
{
    /// <summary>Each shard's hits, and the query's vector (null: the search ran on BM25 alone).</summary>
    private async Task<(ShardResult[] Results, float[]? Vector)> RetrieveAsync(SearchScope search, bool dense, float[]? ownVector, SearchSteps steps)
    {
        var (request, settings, ct) = (search.Request, search.Info.Settings, search.Ct);
        var k = ResultShaping.Depth(request);
        // "primary": the copies that take the writes; otherwise any of the collection's copies of each shard.
        var copies = request.Consistency == "primary" ? 1 : settings.ReplicationFactor;
        var turn = Copies.NextTurn();
        var vector = ownVector;
        ShardResult[] results;
        if (dense && vector is null)
        {
            // The shards' BM25 side runs while the query is embedded (it needs no vector), the dense side once the
            // vector is there, so the lexical search is off the query's path.
            var lexical = search.HasText ? SearchAllShards(ShardQueryOf(null, request.Query)) : null;
            lexical?.Ignore(); // observed below in every case; not left unobserved if the embedding throws first
            if (options.Value.LatencyBudgetMs <= 0) _overBudget++; // no time for an embedding at all: BM25 alone, nothing asked of the embedder
            else vector = await EmbedQueryWithinBudget(search.Collection, request.Query, ct);
            steps.Done("query embedding");
            var denseResults = vector is null ? null : await SearchAllShards(ShardQueryOf(vector, null));
            var lexicalResults = lexical is null ? null : await lexical;
            results = Combine(denseResults, lexicalResults);
        }
        else
            results = await SearchAllShards(ShardQueryOf(vector, search.HasText ? request.Query : null));
        steps.Done(SearchSteps.Shards(results));
        return (results, vector);

        // Ef 0: the shards' configured Hnsw:EfSearch. A graph never searches narrower than the k it is asked for.
        ShardQuery ShardQueryOf(float[]? queryVector, string? text) => new(queryVector, text, k, request.Ef ?? 0, search.Filter) { Exact = settings.Flat, TextField = request.TextField };
        async Task<ShardResult[]> SearchAllShards(ShardQuery shardQuery)
        {
            try
            {
                return await SearchShards(settings.Layout, shardQuery);
            }
            catch (ShardLayoutChangedException)
            {
                // A reshard switched layouts after the info was read (its old shards retire a few seconds later): once more, on the new ones.
                return await SearchShards((await GrainFactory.GetGrain<ICollectionGrain>(search.Collection).GetSettings()).Layout, shardQuery);
            }
        }
        Task<ShardResult[]> SearchShards(ShardLayout layout, ShardQuery shardQuery)
        {
            var required = search.Written is null ? null : ShardsHolding(search.Written, layout);
            return Task.WhenAll(layout.ShardKeys(search.Collection).Select((shard, i) => Copies.SearchAsync(shard, copies,
                required?.GetValueOrDefault(i) is { } versions ? shardQuery with { MinVersions = versions } : shardQuery, turn + (uint)i, ct))).WaitAsync(ct);
        }
    }

    /// <summary>The dense and the lexical side of a search, asked of the shards apart, as one result per shard.</summary>
    private static ShardResult[] Combine(ShardResult[]? dense, ShardResult[]? lexical) =>
        (dense ?? []).Concat(lexical ?? []).GroupBy(r => r.Shard)
            .Select(g => new ShardResult(g.Key, [.. g.SelectMany(r => r.Dense)], [.. g.SelectMany(r => r.Lexical)]) { ExactScan = g.Any(r => r.ExactScan), Copy = g.Max(r => r.Copy), LexicalCoverage = g.Max(r => r.LexicalCoverage), Walk = g.Select(r => r.Walk).FirstOrDefault(w => w is not null), Matching = g.Max(r => r.Matching) })
            .ToArray();

    /// <summary>
    /// Read your writes: waits until each named document is indexed at its version or a later one (a deleted one counts,
    /// being later), polling its status, at most <see cref="QueryOptions.ReadAfterWaitMs"/>; then each with its chunk count.
    /// </summary>
    private async Task<(string Id, long Version, int Chunks)[]?> IndexedAsync(string collection, Dictionary<string, long>? readAfter, DocumentAccess access,
        CancellationToken ct)
    {
        if (readAfter is not { Count: > 0 }) return null;
        var ids = readAfter.Keys.ToArray();
        var waited = Stopwatch.StartNew();
        while (true)
        {
            // A document the caller may not see is waited for as one the collection does not know: its status never shows.
            var statuses = (await DocumentBatch.StatusesAsync(GrainFactory, collection, ids))
                .Select(s => access.Sees(s.Tags) ? s : s with { Status = DocumentStatuses.Unknown, Version = 0, ChunkCount = 0, Error = null }).ToArray();
            int? waiting = null;
            for (var i = 0; i < ids.Length; i++)
            {
                // A document not known yet (its grain answers "unknown" between its acceptance and its first write) is waited for too.
                var (s, version) = (statuses[i], readAfter[ids[i]]);
                if (s.Version < version || s.Status is not (DocumentStatuses.Indexed or DocumentStatuses.Failed or DocumentStatuses.Deleted)) waiting ??= i;
                else if (s.Status == DocumentStatuses.Failed) throw new ConflictException($"readAfter: document '{ids[i]}' failed to index: {s.Error}");
            }
            if (waiting is not { } late)
                return [.. ids.Select((id, i) => (id, readAfter[id], statuses[i].Status == DocumentStatuses.Deleted ? 0 : statuses[i].ChunkCount))];
            if (waited.Elapsed.TotalMilliseconds >= options.Value.ReadAfterWaitMs)
                throw new NotYetReadableException($"readAfter: document '{ids[late]}' is not indexed at version {readAfter[ids[late]]} yet " +
                    $"({(statuses[late].Version == 0 ? "the collection does not know it" : $"it is {statuses[late].Status} at version {statuses[late].Version}")}); try again shortly");
            await Task.Delay(ReadAfterPoll, ct);
        }
    }

    private static readonly TimeSpan ReadAfterPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>For each shard of <paramref name="layout"/> that holds chunks of the documents, the versions it must hold to answer.</summary>
    private static Dictionary<int, Dictionary<string, long>> ShardsHolding((string Id, long Version, int Chunks)[] documents, ShardLayout layout) =>
        documents.SelectMany(d => Enumerable.Range(0, d.Chunks).Select(ordinal => (Shard: ShardRouting.ShardOf(ChunkIds.Of(d.Id, ordinal), layout.ShardCount), d.Id, d.Version)))
            .GroupBy(x => x.Shard)
            .ToDictionary(g => g.Key, g => g.DistinctBy(x => x.Id).ToDictionary(x => x.Id, x => x.Version, StringComparer.Ordinal));
}
