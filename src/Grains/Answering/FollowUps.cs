using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Retrieval;

namespace RagCluster.Grains.Answering;

/// <summary>
/// A follow-up searched without a language model (issue 75, item 2): as asked, and with the question before it
/// carried in front ("At what temperature should green tea be brewed? And black tea?"), the two rankings fused by
/// reciprocal rank. The first keeps what the follow-up asks; the second, what it refers to. Either alone found the
/// answering document first less often (bench/results, issue 75, follow-ups).
/// </summary>
public static class FollowUps
{
    /// <summary>Reciprocal rank fusion's k: small, so the first places of either ranking count most.</summary>
    public const int FusionK = 10;

    /// <summary>The follow-up with the last earlier question carried in front of it (the earlier one cut from its start to stay within a query's 2,000 characters).</summary>
    public static string WithContext(string question, string earlier)
    {
        question = question.Trim();
        earlier = earlier.Trim();
        var room = QueryLimits.MaxQueryChars - question.Length - 1;
        if (room <= 0) return question;
        return $"{(earlier.Length > room ? earlier[^room..] : earlier)} {question}";
    }

    /// <summary>The two searches' hits fused by reciprocal rank (by chunk), best first, at most <paramref name="topK"/>.</summary>
    public static SearchHit[] Fuse(IReadOnlyList<SearchHit> asked, IReadOnlyList<SearchHit> withContext, int topK)
    {
        var hits = asked.Concat(withContext).DistinctBy(h => h.ChunkId).ToDictionary(h => h.ChunkId, StringComparer.Ordinal);
        return RankFusion.Reciprocal<string>([asked.Select(h => h.ChunkId).ToList(), withContext.Select(h => h.ChunkId).ToList()], FusionK)
            .Take(topK).Select(f => hits[f.Key] with { Score = f.Score }).ToArray();
    }
}
