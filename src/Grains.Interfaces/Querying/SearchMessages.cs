using RagCluster.Grains.Interfaces.Collections;

namespace RagCluster.Grains.Interfaces.Querying;

// Wire and stored types: Orleans serializers are generated for them; primary-constructor members get ids in
// declaration order, so new members go at the end. [Alias] keeps stored state readable across renames and moves.
// [Immutable]: values never changed after they are sent, so Orleans skips the defensive copy on local calls.

/// <param name="Query">The query text (empty with a query vector alone).</param>
/// <param name="TopK">Hits to return, 1..100.</param>
/// <param name="Filter">The filter's JSON as the caller wrote it (see <c>FilterParser</c>); null or "{}": none.</param>
/// <param name="Plan">A plan by name, or null or "auto" for the planner's choice.</param>
[GenerateSerializer, Immutable, Alias("rc.SearchRequest")]
public sealed record SearchRequest(string Query, int TopK, string? Filter, string? Plan)
{
    /// <summary>A query vector, for collections that bring their own vectors (<see cref="CollectionSettings.Dimensions"/>); Query may then be empty.</summary>
    [Id(4)] public float[]? Vector { get; init; }
    /// <summary>HNSW search breadth per shard (1..4096; at least the candidate depth); null: the default. Higher finds more of the true nearest, slower.</summary>
    [Id(5)] public int? Ef { get; init; }
    /// <summary>
    /// Which shard copies may answer: "any" (null, the default: any copy, which may not yet hold the newest writes) or
    /// "primary" (the copies that take the writes, so every acknowledged write is seen).
    /// </summary>
    [Id(6)] public string? Consistency { get; init; }
    /// <summary>
    /// Read your writes: documents and the versions their ingest returned. The answer is given only once each is indexed
    /// at that version (or a later one), and only by shard copies that hold it; null or empty: no such wait.
    /// </summary>
    [Id(7)] public Dictionary<string, long>? ReadAfter { get; init; }
    /// <summary>"document": up to TopK documents, each with its best chunks (<see cref="GroupSize"/>); null: TopK chunks.</summary>
    [Id(8)] public string? GroupBy { get; init; }
    /// <summary>Chunks a document group holds, 1..10 (1).</summary>
    [Id(9)] public int? GroupSize { get; init; }
    /// <summary>Hits scored below this are dropped; the score is the plan's (cosine similarity, BM25, or a fused rank score).</summary>
    [Id(10)] public double? ScoreThreshold { get; init; }
    /// <summary>Hits (or groups) to skip, for paging: offset + topK at most 1,000; every page ranks the same 1,000-deep window, so pages never overlap.</summary>
    [Id(11)] public int? Offset { get; init; }
    /// <summary>How the hybrid plan fuses its two sides: "rrf" (reciprocal rank fusion, the default) or "relative" (relative score fusion).</summary>
    [Id(12)] public string? Fusion { get; init; }
    /// <summary>The vector side's weight in the hybrid plan, 0..1 (rrf: 0.5, relative: 0.75).</summary>
    [Id(13)] public double? Alpha { get; init; }
    /// <summary>
    /// Whose search this is: in a collection with an access field only the documents these rights see are searched
    /// (null sees none there). The API sets it from the caller's key or token.
    /// </summary>
    [Id(14)] public Security.ReadAccess? Access { get; init; }
    /// <summary>A text field the collection declares (type "text"): the query's words are matched in it, not in the chunks' text.</summary>
    [Id(15)] public string? TextField { get; init; }
    /// <summary>Answer with <see cref="SearchResponse.Explain"/>: how each shard searched. Computed afresh, never from a cache.</summary>
    [Id(16)] public bool Explain { get; init; }

    /// <summary>
    /// What is wrong with the request on its own, before any collection is read, as a problem's title and detail (null:
    /// nothing): every option's rule, in one place; the query plan refuses a request by it, whichever door it came in by.
    /// <paramref name="name"/> is what the text is called to the caller ("question" for an ask).
    /// </summary>
    public (string Title, string Detail)? Problem(string name = "query")
    {
        const string Invalid = "Invalid request";
        if (Query.Length > QueryLimits.MaxQueryChars || (string.IsNullOrWhiteSpace(Query) && Vector is null))
            return ($"Invalid {name}", $"{name} must be 1..{QueryLimits.MaxQueryChars} characters");
        if (TopK is < 1 or > QueryLimits.MaxTopK) return ("Invalid topK", $"topK must be 1..{QueryLimits.MaxTopK}");
        if (Ef is < 1 or > QueryLimits.MaxEf) return ("Invalid ef", $"ef (the HNSW search breadth) must be 1..{QueryLimits.MaxEf}");
        if (Consistency is not (null or SearchOptions.AnyCopy or SearchOptions.PrimaryCopy)) return (Invalid, $"unknown consistency '{Consistency}'; use any or primary");
        if (ReadAfter is { } named && (named.Count > QueryLimits.MaxReadAfter || named.Any(d => d.Key.Length is 0 or > 512 || d.Value < 0)))
            return (Invalid, $"readAfter: at most {QueryLimits.MaxReadAfter} documents, each an id (1..512 characters) and the version its ingest returned");
        if (Plan is { } plan && plan != SearchOptions.Auto && !SearchOptions.Plans.Contains(plan))
            return (Invalid, $"unknown plan '{plan}'; use auto, {string.Join(", ", SearchOptions.Plans)}");
        if (GroupBy is not (null or SearchOptions.GroupByDocument)) return (Invalid, $"groupBy must be \"document\" (or left out), not '{GroupBy}'");
        if (GroupSize is { } size && (size is < 1 or > QueryLimits.MaxGroupSize || GroupBy is null))
            return (Invalid, $"groupSize must be 1..{QueryLimits.MaxGroupSize}, with groupBy");
        if (Offset is { } offset && (offset < 0 || offset + TopK > QueryLimits.MaxWindow))
            return (Invalid, $"offset must be 0 or more, and offset + topK at most {QueryLimits.MaxWindow}");
        if (ScoreThreshold is { } t && !double.IsFinite(t)) return (Invalid, "scoreThreshold must be a finite number");
        if (Fusion is not (null or SearchOptions.Reciprocal or SearchOptions.Relative))
            return (Invalid, $"fusion must be \"{SearchOptions.Reciprocal}\" or \"{SearchOptions.Relative}\", not '{Fusion}'");
        if (Alpha is { } a && !(a is >= 0 and <= 1)) return (Invalid, "alpha (the vector side's weight in the hybrid plan) must be 0..1");
        return null;
    }
}

/// <summary>One document of a grouped search: its best chunks, best first, and its score (its best chunk's).</summary>
[GenerateSerializer, Immutable, Alias("rc.SearchGroup")]
public sealed record SearchGroup(string DocumentId, double Score, SearchHit[] Hits);

[GenerateSerializer, Immutable, Alias("rc.SearchHit")]
public sealed record SearchHit(string DocumentId, string ChunkId, int Ordinal, int Start, int End, string Text, string[] HeadingPath, double Score);

/// <summary><see cref="CacheTier"/>: L1 (this silo), L2 (cache grain memory), L3 (cache grain's stored state) or null (computed).</summary>
[GenerateSerializer, Immutable, Alias("rc.SearchResponse")]
public sealed record SearchResponse(string Plan, SearchHit[] Hits, bool Cached, double ElapsedMs, string[] CandidatePlans, string? CacheTier)
{
    /// <summary>The documents of a search grouped by document (their chunks are <see cref="Hits"/> too, in the same order); null otherwise.</summary>
    [Id(6)] public SearchGroup[]? Groups { get; init; }
    /// <summary>How the search ran, when <see cref="SearchRequest.Explain"/> asked; null otherwise.</summary>
    [Id(7)] public SearchExplain? Explain { get; init; }
}

/// <summary>A search's steps with their times ("settings 0 ms, query embedding 3 ms, shards (value-links 4) 1 ms") and each shard's plan.</summary>
[GenerateSerializer, Immutable, Alias("rc.SearchExplain")]
public sealed record SearchExplain(string Steps, ShardExplain[] Shards);

/// <param name="Shard">The shard's number.</param>
/// <param name="Dense">How the shard found its dense hits (<see cref="Indexing.ShardResult.Walk"/>); null: no dense side.</param>
/// <param name="Matching">Chunks the filter (with the access trim) keeps in the shard; its live chunks when there is none.</param>
/// <param name="Copy">Which copy of the shard answered (0: the primary).</param>
[GenerateSerializer, Immutable, Alias("rc.ShardExplain")]
public sealed record ShardExplain(int Shard, string? Dense, int Matching, int Copy);

/// <summary><see cref="OverBudget"/>: queries that ran lexical-only because embedding exceeded half the latency budget.</summary>
[GenerateSerializer, Immutable, Alias("rc.PlanStats")]
public sealed record PlanStats(string Collection, Dictionary<string, long> Wins, Dictionary<string, double> MeanLatencyMs, long Queries, long OverBudget)
{
    /// <summary>Queries that ran on BM25 alone because no silo could embed them (none with the embedding role active, or it failed).</summary>
    [Id(5)] public long EmbeddingUnavailable { get; init; }
    /// <summary>Queries stopped because their caller cancelled them (an HTTP client that went away).</summary>
    [Id(6)] public long Cancelled { get; init; }
}
