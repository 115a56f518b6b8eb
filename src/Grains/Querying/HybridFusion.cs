using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Retrieval;

namespace RagCluster.Grains.Querying;

/// <summary>
/// How the hybrid plan fuses the vector side with BM25: "relative" (relative score fusion: min-max scaled scores,
/// weighted; the default) or "rrf" (reciprocal rank fusion, k = 60), and alpha, the weight of the vector side (0: BM25
/// alone, 1: vector alone). Relative at 0.7 by measurement (docs/benchmarks.md, issue 58): on scifact-train it beat RRF
/// by 0.018 nDCG@10, and unlike RRF or relative at 0.5-0.6 it ranks a strong meaning match above a one-word lexical one.
/// </summary>
internal sealed record HybridFusion(string Method, double Alpha)
{
    public const string Reciprocal = "rrf", Relative = "relative";
    public const double DefaultRrfAlpha = 0.5;
    /// <summary>The vector side's weight in relative score fusion when a query names none (Weaviate's default is 0.75).</summary>
    public const double DefaultRelativeAlpha = 0.7;

    public static HybridFusion For(string? method, double? alpha)
    {
        if (method is not (null or Reciprocal or Relative)) throw new InvalidRequestException($"fusion must be \"{Reciprocal}\" or \"{Relative}\", not '{method}'");
        if (alpha is { } a && !(a is >= 0 and <= 1)) throw new InvalidRequestException("alpha (the vector side's weight in the hybrid plan) must be 0..1");
        var m = method ?? Relative;
        return new(m, alpha ?? (m == Relative ? DefaultRelativeAlpha : DefaultRrfAlpha));
    }

    public List<(int Hit, double Score)> Fuse(List<(int Hit, double Score)> dense, List<(int Hit, double Score)> lexical) =>
        Method == Relative ? Rsf(dense, lexical, Alpha) : Rrf(dense, lexical, 60, Alpha);

    // Weights 2α and 2(1-α), so that α = 0.5 is the unweighted fusion every earlier release ran.
    public static List<(int Hit, double Score)> Rrf(List<(int Hit, double Score)> dense, List<(int Hit, double Score)> lexical, int k, double alpha) =>
        RankFusion.Reciprocal<int>([[.. dense.Select(h => h.Hit)], [.. lexical.Select(h => h.Hit)]], k, [2 * alpha, 2 * (1 - alpha)]);

    public static List<(int Hit, double Score)> Rsf(List<(int Hit, double Score)> dense, List<(int Hit, double Score)> lexical, double alpha) =>
        RankFusion.Relative<int>([dense, lexical], [alpha, 1 - alpha]);
}
