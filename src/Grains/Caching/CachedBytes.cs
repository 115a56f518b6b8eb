using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Grains.Caching;

/// <summary>
/// About what a cached answer holds in memory: its strings (two bytes a char) and a fixed cost a hit. The caches are
/// bounded by this as well as by count, since an answer's size varies a hundredfold with topK and chunk length (scifact,
/// topK 100 with text: about 160 KB; topK 10 of short chunks: a few KB).
/// </summary>
public static class CachedBytes
{
    private const int PerHit = 96, PerAnswer = 256;

    public static long Of(SearchResponse answer)
    {
        long bytes = PerAnswer + 2L * (answer.Plan.Length + answer.CandidatePlans.Sum(p => p.Length));
        foreach (var hit in answer.Hits)
            bytes += PerHit + 2L * (hit.DocumentId.Length + hit.ChunkId.Length + hit.Text.Length + hit.HeadingPath.Sum(h => h.Length));
        return bytes;
    }
}
