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

    /// <summary>Each plan's ranking, best first: hit numbers and the plan's scores.</summary>
    public Dictionary<string, List<(int Hit, double Score)>> Rankings { get; } = [];

    public CandidatePlans(ShardResult[] results, bool dense, bool lexical, HybridFusion hybrid)
    {
        var denseRanked = Ranked(results, r => r.Dense);
        var lexicalRanked = Ranked(results, r => r.Lexical);
        if (dense) Rankings["vector"] = denseRanked;
        if (lexical) Rankings["bm25"] = lexicalRanked;
        if (!dense || !lexical) return;
        Rankings["hybrid"] = hybrid.Fuse(denseRanked, lexicalRanked);
        Rankings["hybrid-k10"] = HybridFusion.Rrf(denseRanked, lexicalRanked, 10, 0.5);
        Rankings["hybrid-relative"] = HybridFusion.Rsf(denseRanked, lexicalRanked, HybridFusion.DefaultRelativeAlpha);
    }

    public ShardHit Hit(int number) => _hits[number];

    /// <summary>The plan whose top k shares the most hits with the other plans' top k (consensus); ties go to hybrid.</summary>
    public string MostAgreeing(int topK)
    {
        var tops = Rankings.ToDictionary(c => c.Key, c => c.Value.Take(topK).Select(x => x.Hit).ToHashSet());
        return tops.OrderByDescending(a => tops.Where(b => b.Key != a.Key).Sum(b => a.Value.Count(b.Value.Contains)))
            .ThenBy(a => a.Key == "hybrid" ? 0 : 1) // tie: hybrid, the best default on BEIR-style data
            .First().Key;
    }

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
