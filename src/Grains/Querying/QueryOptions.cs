namespace RagCluster.Grains.Querying;

/// <summary>
/// Runs a collection's queries. One fan-out asks every shard for both its dense and its BM25 candidates in
/// parallel; the candidate plans (vector only, BM25 only, hybrid RRF with k=60 and k=10) are then rankings of
/// that shared pool, so trying them costs no extra round trips. Without an explicit plan the one that agrees
/// most with the others (mean top-k overlap) is served; per-collection wins and latencies are kept.
/// Reentrant: queries interleave at their awaits, and only the stats are touched between awaits. A stateless worker,
/// one activation a silo, on the silo that asks (the API silo): a collection's searches are planned where they arrive,
/// so they scale with API silos, and the death of another silo takes no plan with it. So the stats are this silo's.
/// </summary>
/// <summary>Bound from "Query".</summary>
public sealed class QueryOptions : RagCluster.Configuration.IValidatedOptions, RagCluster.Resilience.IPatienceSettings
{
    /// <summary>Target time for one query; the dense plans are dropped when embedding alone takes half of it (0: every query on BM25 alone).</summary>
    public double LatencyBudgetMs { get; set; } = 2000;

    /// <summary>
    /// With shard copies (a collection's replicationFactor above 1): a copy that has not answered after this long, or
    /// after its recent p95 if that is longer, is joined by the next copy, and the first answer wins.
    /// </summary>
    public double HedgeAfterMs { get; set; } = 20;

    /// <summary>
    /// How long a request waits on a call that answers in a millisecond when all is well (a collection's settings and
    /// existence, an API key's check, the shared cache tiers) before it goes on without it: with the last answer known
    /// (<see cref="LastKnownForSeconds"/>), or as a cache miss. A call to a silo killed a moment ago waits until the
    /// cluster declares it dead (Silo:Membership, about 6 s).
    /// </summary>
    public double PatienceMs { get; set; } = 100;

    /// <summary>How old a last known answer may be to stand in for a grain that does not answer now (its silo died and it is not yet placed again).</summary>
    public double LastKnownForSeconds { get; set; } = 60;

    /// <summary>A search that takes at least this long is logged with the time each of its steps took (0: none is).</summary>
    public double SlowSearchMs { get; set; } = 1000;

    /// <summary>How long a read-your-writes search (readAfter) waits for its documents to be indexed before a retriable 503.</summary>
    public double ReadAfterWaitMs { get; set; } = 5000;

    /// <summary>
    /// Whether an extractive answer scores its candidate sentences with the model (the default) or by their words and
    /// their passage's rank alone: the model embeds every candidate sentence of a question not asked before, about 25
    /// sentences at the default topK (bench/results, issue 75), which sites bound by query throughput may not spend.
    /// </summary>
    public bool AnswerByMeaning { get; set; } = true;

    public void Validate()
    {
        if (HedgeAfterMs is < 1 or > 60_000 || double.IsNaN(HedgeAfterMs)) throw new ArgumentException("Query:HedgeAfterMs must be 1..60000");
        if (PatienceMs is < 1 or > 60_000 || double.IsNaN(PatienceMs)) throw new ArgumentException("Query:PatienceMs must be 1..60000");
        if (LastKnownForSeconds is < 0 or > 3600 || double.IsNaN(LastKnownForSeconds)) throw new ArgumentException("Query:LastKnownForSeconds must be 0..3600");
        if (SlowSearchMs is < 0 || double.IsNaN(SlowSearchMs)) throw new ArgumentException("Query:SlowSearchMs must be 0 (off) or more");
        if (ReadAfterWaitMs is < 0 or > 600_000 || double.IsNaN(ReadAfterWaitMs)) throw new ArgumentException("Query:ReadAfterWaitMs must be 0..600000");
        if (LatencyBudgetMs is < 0 or > 600_000 || double.IsNaN(LatencyBudgetMs)) throw new ArgumentException("Query:LatencyBudgetMs must be 0 (BM25 only) to 600000");
    }
}
