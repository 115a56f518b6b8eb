using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using RagCluster.Grains.Answering;
using RagCluster.Grains.Caching;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Caching;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.OwnVectors;
using RagCluster.Grains.Security;
using RagCluster.Metadata;

namespace RagCluster.Grains.Querying;

[Reentrant, StatelessWorker(1)]
public sealed partial class QueryPlanGrain(QueryCache cache, IOptions<QueryOptions> options, Embedder embedder, Resilience.LastKnown<string, CollectionInfo> infos,
    Resilience.Patience patience, SentenceRanker ranker, ILogger<QueryPlanGrain> log) : Grain, IQueryPlanGrain
{
    public static readonly string[] Plans = ["vector", "bm25", "hybrid", "hybrid-k10", "hybrid-rrf"];

    private readonly Dictionary<string, long> _wins = Plans.ToDictionary(p => p, _ => 0L);
    private readonly Dictionary<string, (double Total, long Count)> _latency = [];
    private long _queries;
    private long _overBudget;
    private long _embeddingUnavailable;
    private long _cancelled;
    private ShardCopies? _copies;

    /// <summary>
    /// The collection's settings and version. When its grain does not answer now (its silo died and it has not been
    /// placed again yet), the last ones this silo read (<see cref="Resilience.LastKnown{TKey, TValue}"/>), so that the
    /// shards (and their copies) go on answering; such an answer neither comes from nor goes to a cache, since its
    /// version may be old.
    /// </summary>
    private async Task<(CollectionInfo Info, bool Fresh)> CollectionInfoAsync(string collection, CancellationToken ct)
    {
        var grain = GrainFactory.GetGrain<ICollectionGrain>(collection);
        var (info, fresh) = await infos.GetAsync(grain.GetGrainId(), collection, grain.GetInfo, ct);
        if (!fresh) QueryPlanLog.CollectionUnreachable(log, collection, "no answer within Query:PatienceMs, or a silo's failure");
        return (info, fresh);
    }

    private ShardCopies Copies => _copies ??= new ShardCopies(GrainFactory, TimeSpan.FromMilliseconds(options.Value.HedgeAfterMs));

    public async Task<SearchResponse> Search(SearchRequest request, CancellationToken cancellationToken = default)
    {
        try
        {
            return await SearchCore(request, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _cancelled++;
            throw;
        }
    }

    private async Task<SearchResponse> SearchCore(SearchRequest request, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var steps = new SearchSteps(sw);
        var collection = this.GetPrimaryKeyString();
        if (request.Problem() is { } problem) throw new InvalidRequestException(problem.Detail);
        var hasText = !string.IsNullOrWhiteSpace(request.Query);
        if (request.Plan is { } p && p != "auto" && !Plans.Contains(p))
            throw new InvalidRequestException($"unknown plan '{p}'; use auto, {string.Join(", ", Plans)}");
        ResultShaping.Validate(request);
        var fusion = HybridFusion.For(request.Fusion, request.Alpha);
        var (info, infoIsFresh) = await CollectionInfoAsync(collection, ct);
        steps.Done(infoIsFresh ? "settings" : "settings (last known)");
        var access = DocumentAccess.For(info.Settings.AccessField, request.Access);
        // Parsed against the collection's declared fields (a type mismatch is the caller's to fix); the shards get its canonical text.
        var (filterTerm, filterProblem) = FilterParser.Parse(request.Filter, info.Settings.Fields);
        if (filterProblem is not null) throw new InvalidRequestException(filterProblem);
        if (request.TextField is { } field && !TagRules.IsText(info.Settings.Fields, field))
            throw new InvalidRequestException(TagRules.TextFields(info.Settings.Fields) is { Length: > 0 } texts
                ? $"textField: '{field}' is not a text field of this collection; it declares {string.Join(", ", texts)}"
                : $"textField: '{field}' is not a text field; this collection declares none (a field of type \"text\" in its fields, at creation)");
        var written = await IndexedAsync(collection, request.ReadAfter, access, ct);
        if (written is not null) steps.Done("read-after");
        // A caller with no group of an access-controlled collection sees no document: nothing to ask the shards.
        if (access.Nothing) return new SearchResponse(request.Plan is null or "auto" ? "none" : request.Plan, [], false, sw.Elapsed.TotalMilliseconds, [], null) { Groups = request.GroupBy is null ? null : [] };
        // The access trim joins the caller's filter, so it runs in each shard's tag index before ranking and keys every cache tier.
        filterTerm = access.Trim(filterTerm);
        var filter = filterTerm is null ? null : FilterParser.Canonical(filterTerm);
        // Caches only with settings read now, and never for a read-your-writes answer (computed from copies that hold those writes).
        // Nor for an explained one: it shows how the shards searched this time.
        var cacheable = infoIsFresh && written is null && !request.Explain;
        var ownVector = QueryVector(request.Vector, info.Settings);
        var key = $"{collection}\u0001{info.Version}\u0001{request.Plan ?? "auto"}\u0001{request.TopK}\u0001{request.Ef}\u0001{filter}\u0001{request.GroupBy}:{request.GroupSize}:{request.ScoreThreshold}:{request.Offset}:{fusion}:{request.TextField}\u0001{request.Query}"
                  + (ownVector is null ? "" : "\u0001" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(ownVector.AsSpan()))));
        if (cacheable && cache.TryGet(key, out var cached))
            return cached with { Cached = true, CacheTier = "L1", ElapsedMs = sw.Elapsed.TotalMilliseconds };
        var partition = GrainFactory.GetGrain<ICacheGrain>(CacheGrain.PartitionOf(key));
        var shared = !cacheable ? new CacheLookup(false, null, "skipped")
            : await SharedCacheAsync("get", () => patience.WaitAsync(partition.GetGrainId(), partition.Get(key), ct)) ?? new CacheLookup(false, null, "unavailable");
        ct.ThrowIfCancellationRequested(); // the shared cache counts a cancelled call as unavailable
        if (cacheable) steps.Done($"shared cache get ({shared.Tier})");
        if (shared is { Found: true, Value: { } fromL2 })
        {
            RagMetrics.CacheHits.Add(1, RagMetrics.Tag("tier", shared.Tier));
            cache.Set(key, fromL2);
            return fromL2 with { Cached = true, CacheTier = shared.Tier, ElapsedMs = sw.Elapsed.TotalMilliseconds };
        }

        RagMetrics.CacheMisses.Add(1, RagMetrics.Tag("tier", "L2"));
        // Dense retrieval: the query's own vector in a collection that brings its own, else the cluster's model, on
        // this silo when it embeds, else on an embedding silo (Embedder).
        if (info.Settings.Dimensions is null) await embedder.ModelLoaded.WaitAsync(ct); // awaited, not blocking this turn, at a silo's start
        var dense = info.Settings.Dimensions is null ? embedder.DenseRetrieval : ownVector is not null;
        // Latency budget: the dense plans wait for the query embedding at most half the budget; past that the
        // query runs on BM25 alone rather than blowing the budget (e.g. while the embedder is saturated by ingest).
        // So it does when no silo can embed now (none with the embedding role is active, or the one asked died).
        var vector = ownVector;
        var k = ResultShaping.Depth(request);
        // Ef 0: the shards' configured Hnsw:EfSearch. A graph never searches narrower than the k it is asked for.
        // "primary": the copies that take the writes; otherwise any of the collection's copies of each shard.
        var copies = request.Consistency == "primary" ? 1 : info.Settings.ReplicationFactor;
        var turn = Copies.NextTurn();
        ShardResult[] results;
        if (dense && vector is null)
        {
            // The shards' BM25 side runs while the query is embedded (it needs no vector), the dense side once the
            // vector is there, so the lexical search is off the query's path.
            var lexical = hasText ? SearchAllShards(ShardQueryOf(null, request.Query)) : null;
            lexical?.Ignore(); // observed below in every case; not left unobserved if the embedding throws first
            if (options.Value.LatencyBudgetMs <= 0) _overBudget++; // no time for an embedding at all: BM25 alone, nothing asked of the embedder
            else vector = await EmbedQueryWithinBudget();
            steps.Done("query embedding");
            var denseResults = vector is null ? null : await SearchAllShards(ShardQueryOf(vector, null));
            var lexicalResults = lexical is null ? null : await lexical;
            results = Combine(denseResults, lexicalResults);
            steps.Done(SearchSteps.Shards(results));
        }
        else
        {
            results = await SearchAllShards(ShardQueryOf(vector, hasText ? request.Query : null));
            steps.Done(SearchSteps.Shards(results));
        }

        ShardQuery ShardQueryOf(float[]? queryVector, string? text) => new(queryVector, text, k, request.Ef ?? 0, filterTerm) { Exact = info.Settings.Flat, TextField = request.TextField };
        async Task<ShardResult[]> SearchAllShards(ShardQuery shardQuery)
        {
            try
            {
                return await SearchShards(info.Settings.Layout, shardQuery);
            }
            catch (ShardLayoutChangedException)
            {
                // A reshard switched layouts after the info was read (its old shards retire a few seconds later): once more, on the new ones.
                return await SearchShards((await GrainFactory.GetGrain<ICollectionGrain>(collection).GetSettings()).Layout, shardQuery);
            }
        }
        Task<ShardResult[]> SearchShards(ShardLayout layout, ShardQuery shardQuery)
        {
            var required = written is null ? null : ShardsHolding(written, layout);
            return Task.WhenAll(layout.ShardKeys(collection).Select((shard, i) => Copies.SearchAsync(shard, copies,
                required?.GetValueOrDefault(i) is { } versions ? shardQuery with { MinVersions = versions } : shardQuery, turn + (uint)i, ct))).WaitAsync(ct);
        }

        // The query's vector, or null when it took more than half the budget or no silo could embed it now.
        async Task<float[]?> EmbedQueryWithinBudget()
        {
            Task<float[][]> embedding;
            try { embedding = embedder.EmbedAsync([embedder.Local.TokenIds(request.Query, EmbeddingKind.Query)], EmbeddingKind.Query, ct); }
            catch (EmbeddingUnavailableException e) { embedding = Task.FromException<float[][]>(e); }
            var first = await Task.WhenAny(embedding, Task.Delay(TimeSpan.FromMilliseconds(options.Value.LatencyBudgetMs / 2.0), ct));
            ct.ThrowIfCancellationRequested();
            if (first != embedding)
            {
                _ = embedding.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
                _overBudget++;
                return null;
            }
            if (embedding.IsCompletedSuccessfully) return embedding.Result[0];
            if (embedding.Exception?.GetBaseException() is { } failure && (failure is EmbeddingUnavailableException || RagCluster.Grains.Documents.DocumentRefusal.IsTransient(failure)))
            {
                _embeddingUnavailable++;
                QueryPlanLog.EmbeddingUnavailable(log, collection, failure.Message.Split('\n')[0]);
                return null;
            }
            await embedding; // not a condition to work around: the caller sees it
            return null;
        }

        var plans = new CandidatePlans(results, dense: vector is not null, lexical: hasText, fusion);

        string chosen;
        if (request.Plan is { } wanted && wanted != "auto")
            chosen = plans.Has(wanted) ? wanted
                : throw new InvalidRequestException(wanted == "bm25" ? "plan 'bm25' needs query text"
                    : info.Settings.Dimensions is null ? $"plan '{wanted}' needs dense retrieval, which is off on this cluster"
                    : $"plan '{wanted}' needs a query vector{(wanted.StartsWith("hybrid") ? " and query text" : "")}");
        else
            chosen = plans.Default;

        var (hits, groups) = ResultShaping.Shape(plans.Ranking(chosen).Select(c =>
        {
            var h = plans.Hit(c.Hit);
            return (new SearchHit(h.DocumentId, h.ChunkId, h.Ordinal, h.Start, h.End, h.Text, h.HeadingPath, c.Score), c.Score);
        }), request);
        steps.Done("ranking");
        var elapsed = sw.Elapsed.TotalMilliseconds;
        RagMetrics.QuerySeconds.Record(elapsed / 1000, RagMetrics.Tag("plan", chosen));
        _queries++;
        _wins[chosen]++;
        var (total, count) = _latency.GetValueOrDefault(chosen);
        _latency[chosen] = (total + elapsed, count + 1);
        var response = new SearchResponse(chosen, hits, false, elapsed, plans.Names.ToArray(), null)
        {
            Groups = groups,
            Explain = request.Explain ? new SearchExplain(steps.ToString(), [.. results.Select(r => new ShardExplain(r.Shard, r.Walk, r.Matching, r.Copy))]) : null,
        };
        // Nor is one that a follower copy helped answer: it may lack the newest writes, which the key's version already counts.
        if ((vector is not null || !dense) && cacheable && results.All(r => r.Copy == 0))
        {
            // A BM25-only answer given because the query could not be embedded in time (or at all) is not cached as the query's answer.
            cache.Set(key, response);
            await SharedCacheAsync("set", async () => { await patience.WaitAsync(partition.GetGrainId(), partition.Set(key, response), ct); return response; });
            steps.Done("shared cache set");
        }
        if (options.Value.SlowSearchMs > 0 && sw.Elapsed.TotalMilliseconds >= options.Value.SlowSearchMs)
            QueryPlanLog.SlowSearch(log, collection, sw.Elapsed.TotalMilliseconds, steps.ToString());
        return response;
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

    /// <summary>The query's own vector, checked and, for cosine, scaled to length 1; null when the request has none.</summary>
    private static float[]? QueryVector(float[]? vector, CollectionSettings settings)
    {
        if (vector is null) return null;
        if (settings.Dimensions is not { } dimensions)
            throw new InvalidRequestException("this collection embeds queries with the cluster's model; send query text, not a vector");
        if (dimensions == 0) throw new InvalidRequestException("this collection holds no vectors (dimensions 0); search it with query text (BM25) and filters");
        if (OwnVectorChunks.Problem(vector, dimensions) is { } problem) throw new InvalidRequestException($"the query vector {problem}");
        return OwnVectorChunks.Prepared(vector, settings.Distance);
    }

    /// <summary>
    /// A call to the shared cache tiers, which only save work: when it fails transiently (the partition's storage or silo
    /// is down, e.g. it could not flush during a database restart and now cannot reactivate), the search goes on as a miss.
    /// </summary>
    private async Task<T?> SharedCacheAsync<T>(string operation, Func<Task<T>> call) where T : class
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (RagCluster.Grains.Documents.DocumentRefusal.IsTransient(e))
        {
            RagMetrics.CacheUnavailable.Add(1, RagMetrics.Tag("operation", operation));
            QueryPlanLog.SharedCacheSkipped(log, operation, e.Message.Split('\n')[0]);
            return null;
        }
    }

    public Task<PlanStats> GetStats() => Task.FromResult(new PlanStats(this.GetPrimaryKeyString(), new Dictionary<string, long>(_wins),
        _latency.ToDictionary(l => l.Key, l => l.Value.Total / Math.Max(1, l.Value.Count)), _queries, _overBudget) { EmbeddingUnavailable = _embeddingUnavailable, Cancelled = _cancelled });
}
