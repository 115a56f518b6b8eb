using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using RagCluster.Grains.Answering;
using RagCluster.Grains.Caching;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Security;
using RagCluster.Metadata;

namespace RagCluster.Grains.Querying;

[Reentrant, StatelessWorker(1)]
public sealed partial class QueryPlanGrain(QueryCache cache, IOptions<QueryOptions> options, Embedder embedder, Resilience.LastKnown<string, CollectionInfo> infos,
    Resilience.Patience patience, SentenceRanker ranker, ILogger<QueryPlanGrain> log) : Grain, IQueryPlanGrain
{

    private readonly Dictionary<string, long> _wins = SearchOptions.Plans.ToDictionary(p => p, _ => 0L);
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

    /// <summary>What one search has settled before it asks the shards: shared by its steps (cache, embedding, fan-out, ranking).</summary>
    private sealed record SearchScope(string Collection, SearchRequest Request, CollectionInfo Info, FilterTerm? Filter,
        (string Id, long Version, int Chunks)[]? Written, CancellationToken Ct)
    {
        public bool HasText => !string.IsNullOrWhiteSpace(Request.Query);
    }

    // A search, step by step: the request's own rules, the collection's settings, the caller's trim joined to the
    // filter, read-your-writes, the cache tiers, the shards (the query embedded beside their BM25 side), the ranking.
    private async Task<SearchResponse> SearchCore(SearchRequest request, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var steps = new SearchSteps(sw);
        var collection = this.GetPrimaryKeyString();
        Validate(request);
        var fusion = HybridFusion.For(request.Fusion, request.Alpha);
        var (info, infoIsFresh) = await CollectionInfoAsync(collection, ct);
        steps.Done(infoIsFresh ? "settings" : "settings (last known)");
        var access = DocumentAccess.For(info.Settings.AccessField, request.Access);
        var filter = ParsedFilter(request, info.Settings);
        var written = await IndexedAsync(collection, request.ReadAfter, access, ct);
        if (written is not null) steps.Done("read-after");
        // A caller with no group of an access-controlled collection sees no document: nothing to ask the shards.
        if (access.Nothing) return new SearchResponse(request.Plan is null or "auto" ? "none" : request.Plan, [], false, sw.Elapsed.TotalMilliseconds, [], null) { Groups = request.GroupBy is null ? null : [] };
        // The access trim joins the caller's filter, so it runs in each shard's tag index before ranking and keys every cache tier.
        var search = new SearchScope(collection, request, info, access.Trim(filter), written, ct);
        var ownVector = QueryVector(request.Vector, info.Settings);
        // Caches only with settings read now, and never for a read-your-writes answer (computed from copies that hold those writes).
        // Nor for an explained one: it shows how the shards searched this time.
        var cacheable = infoIsFresh && written is null && !request.Explain;
        var key = CacheKey(search, ownVector);
        var (cached, partition) = await CachedAsync(key, cacheable, steps, sw, ct);
        if (cached is not null) return cached;

        // Dense retrieval: the query's own vector in a collection that brings its own, else the cluster's model, on
        // this silo when it embeds, else on an embedding silo (Embedder).
        if (info.Settings.Dimensions is null) await embedder.ModelLoaded.WaitAsync(ct); // a text search's first loads the model: awaited, not blocking this turn
        var dense = info.Settings.Dimensions is null ? embedder.DenseRetrieval : ownVector is not null;
        var (results, vector) = await RetrieveAsync(search, dense, ownVector, steps);
        var response = Rank(search, results, vector is not null, fusion, steps, sw);
        // Not cached: an answer a follower copy helped give (it may lack the newest writes, which the key's version
        // counts), nor a BM25-only one given because the query could not be embedded in time (or at all).
        if ((vector is not null || !dense) && cacheable && results.All(r => r.Copy == 0))
            await StoreAsync(key, partition, response, steps, ct);
        if (options.Value.SlowSearchMs > 0 && sw.Elapsed.TotalMilliseconds >= options.Value.SlowSearchMs)
            QueryPlanLog.SlowSearch(log, collection, sw.Elapsed.TotalMilliseconds, steps.ToString());
        return response;
    }

    /// <summary>The request's rules that need no collection, each option's once (<see cref="SearchRequest.Problem"/>).</summary>
    private static void Validate(SearchRequest request)
    {
        if (request.Problem() is { } problem) throw new InvalidRequestException(problem.Title, problem.Detail);
    }

    /// <summary>The caller's filter parsed against the collection's declared fields (a type mismatch is the caller's to fix), and its text field checked.</summary>
    private static FilterTerm? ParsedFilter(SearchRequest request, CollectionSettings settings)
    {
        var (filter, problem) = FilterParser.Parse(request.Filter, settings.Fields);
        if (problem is not null) throw new InvalidRequestException(problem);
        if (request.TextField is { } field && !TagRules.IsText(settings.Fields, field))
            throw new InvalidRequestException(TagRules.TextFields(settings.Fields) is { Length: > 0 } texts
                ? $"textField: '{field}' is not a text field of this collection; it declares {string.Join(", ", texts)}"
                : $"textField: '{field}' is not a text field; this collection declares none (a field of type \"text\" in its fields, at creation)");
        return filter;
    }

    public Task<PlanStats> GetStats() => Task.FromResult(new PlanStats(this.GetPrimaryKeyString(), new Dictionary<string, long>(_wins),
        _latency.ToDictionary(l => l.Key, l => l.Value.Total / Math.Max(1, l.Value.Count)), _queries, _overBudget) { EmbeddingUnavailable = _embeddingUnavailable, Cancelled = _cancelled });
}
