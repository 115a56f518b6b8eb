using RagCluster.Grains.Interfaces.Indexing;

namespace RagCluster.Grains.Querying;

/// <summary>
/// The shards' hits, each numbered once, and every candidate plan's ranking of those numbers: the plans are fused and
/// compared on integers, not on chunk-id strings (at topK 100 that is 1,600 hits a query).
/// </summary>
internal sealed class CandidatePlans
{
    private readonly List<ShardHit> _hits = [];
    private readonly Dictionary<string, int> _numbers = new(StringComparer.Ordinal);

    // Each plan's ranking, best first: hit numbers and the plan's scores. Fused only when asked for: a search serves one
    // plan, and the others were fused over up to 1,600 hits only to be named in the reply.
    private readonly Dictionary<string, Lazy<List<(int Hit, double Score)>>> _rankings = [];

    public CandidatePlans(ShardResult[] results, bool dense, bool lexical, HybridFusion hybrid)
    {
        var denseRanked = Ranked(results, r => r.Dense);
        var lexicalRanked = Ranked(results, r => r.Lexical);
        if (dense) _rankings["vector"] = new(denseRanked);
        if (lexical) _rankings["bm25"] = new(lexicalRanked);
        if (!dense || !lexical) return;
        var coverage = results.Length == 0 ? 0 : results.Max(r => r.LexicalCoverage);
        _rankings["hybrid"] = new(() => hybrid.Fuse(denseRanked, lexicalRanked, coverage));
        _rankings["hybrid-k10"] = new(() => HybridFusion.Rrf(denseRanked, lexicalRanked, 10, 0.5));
        _rankings["hybrid-rrf"] = new(() => HybridFusion.Rrf(denseRanked, lexicalRanked, 60, 0.5));
    }

    /// <summary>The plans this pool can rank, in the order they are reported.</summary>
    public IReadOnlyCollection<string> Names => _rankings.Keys;

    public bool Has(string plan) => _rankings.ContainsKey(plan);

    /// <summary>A plan's ranking, best first: hit numbers and the plan's scores.</summary>
    public List<(int Hit, double Score)> Ranking(string plan) => _rankings[plan].Value;

    public ShardHit Hit(int number) => _hits[number];

    /// <summary>
    /// The plan served when none is asked for: hybrid whenever both sides ran, else the one that did. Consensus (the
    /// plan whose top k agreed most with the others) was the rule until relative score fusion: on scifact-train it then
    /// scored 0.7082 against the relative hybrid's 0.7220 at alpha 0.6 (bench/results, issue 58).
    /// </summary>
    public string Default => _rankings.ContainsKey("hybrid") ? "hybrid" : _rankings.Keys.First();

    // One side's hits from every shard, by score, highest first; equal scores keep shard order (a stable sort).
    private List<(int Hit, double Score)> Ranked(ShardResult[] results, Func<ShardResult, ShardHit[]> side)
    {
        var ranked = new List<(int Hit, double Score)>();
        foreach (var r in results)
            foreach (var h in side(r)) ranked.Add((Number(h), h.Score));
        var order = Enumerable.Range(0, ranked.Count).ToArray();
        var scores = ranked.Select(h => h.Score).ToArray();
        Array.Sort(order, (a, b) => scores[b].CompareTo(scores[a]) is var c && c != 0 ? c : a.CompareTo(b));
        return [.. order.Select(i => ranked[i])];
    }

    private int Number(ShardHit hit)
    {
        if (_numbers.TryGetValue(hit.ChunkId, out var n)) return n;
        _numbers[hit.ChunkId] = n = _hits.Count;
        _hits.Add(hit);
        return n;
    }
}
