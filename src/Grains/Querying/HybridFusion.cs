using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Retrieval;

namespace RagCluster.Grains.Querying;

/// <summary>
/// How the hybrid plan fuses the vector side with BM25: "relative" (relative score fusion: min-max scaled scores,
/// weighted; the default) or "rrf" (reciprocal rank fusion, k = 60), and alpha, the weight of the vector side (0: BM25
/// alone, 1: vector alone). A relative fusion asked for no alpha chooses it per query from the lexical side's coverage
/// (how much of the query's words the best BM25 hit holds, <see cref="AdaptiveAlpha"/>); a fixed alpha or RRF is asked for.
/// </summary>
internal sealed record HybridFusion(string Method, double? Alpha)
{
    public const string Reciprocal = SearchOptions.Reciprocal, Relative = SearchOptions.Relative;
    public const double DefaultRrfAlpha = 0.5;

    /// <summary>
    /// The adaptive rule: alpha 0.5 where the best BM25 hit scores at least 35 % of what a chunk holding every query word
    /// would, 0.95 at 25 % or less, linear between. Measured (bench/results, issue 73 item 5): scifact-train's
    /// queries' coverage has a median of 0.87 (fixed 0.5 is its best fixed alpha, and a held-out split's), while a
    /// question in other words matches one word of some other text (bench/eval/paraphrases: median 0.18), where meaning must win.
    /// </summary>
    public const double WordsAlpha = 0.5, MeaningAlpha = 0.95, WeakCoverage = 0.25, StrongCoverage = 0.35;

    /// <summary>The fusion asked for (its words checked by <see cref="SearchRequest.Problem"/>).</summary>
    public static HybridFusion For(string? method, double? alpha)
    {
        var m = method ?? Relative;
        return new(m, alpha ?? (m == Relative ? null : DefaultRrfAlpha));
    }

    public static double AdaptiveAlpha(double coverage) =>
        MeaningAlpha - (MeaningAlpha - WordsAlpha) * Math.Clamp((coverage - WeakCoverage) / (StrongCoverage - WeakCoverage), 0, 1);

    /// <summary>The hybrid ranking; lexicalCoverage is the best BM25 hit's score over a chunk holding each query word once (0..1).</summary>
    public List<(int Hit, double Score)> Fuse(List<(int Hit, double Score)> dense, List<(int Hit, double Score)> lexical, double lexicalCoverage) =>
        Method == Relative ? Rsf(dense, lexical, Alpha ?? AdaptiveAlpha(lexicalCoverage)) : Rrf(dense, lexical, 60, Alpha ?? DefaultRrfAlpha);

    // Weights 2α and 2(1-α), so that α = 0.5 is the unweighted fusion every earlier release ran.
    public static List<(int Hit, double Score)> Rrf(List<(int Hit, double Score)> dense, List<(int Hit, double Score)> lexical, int k, double alpha) =>
        RankFusion.Reciprocal<int>([[.. dense.Select(h => h.Hit)], [.. lexical.Select(h => h.Hit)]], k, [2 * alpha, 2 * (1 - alpha)]);

    public static List<(int Hit, double Score)> Rsf(List<(int Hit, double Score)> dense, List<(int Hit, double Score)> lexical, double alpha) =>
        RankFusion.Relative<int>([dense, lexical], [alpha, 1 - alpha]);
}
