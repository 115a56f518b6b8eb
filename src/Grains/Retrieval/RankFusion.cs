namespace RagCluster.Grains.Retrieval;

/// <summary>Merging ranked lists.</summary>
public static class RankFusion
{
    /// <summary>
    /// Reciprocal rank fusion (Cormack et al. 2009): score(d) = Σ weight_i / (k + rank_i(d)), ranks from 1.
    /// Scale-free, so BM25 scores and cosine similarities can be combined without calibration.
    /// </summary>
    public static List<(TKey Key, double Score)> Reciprocal<TKey>(IReadOnlyList<IReadOnlyList<TKey>> rankings, int k = 60,
        IReadOnlyList<double>? weights = null) where TKey : notnull
    {
        var scores = new Dictionary<TKey, double>();
        var firstSeen = new Dictionary<TKey, int>();
        var order = 0;
        for (var r = 0; r < rankings.Count; r++)
        {
            var w = weights?[r] ?? 1.0;
            var list = rankings[r];
            for (var i = 0; i < list.Count; i++)
            {
                var key = list[i];
                scores[key] = scores.GetValueOrDefault(key) + w / (k + i + 1);
                firstSeen.TryAdd(key, order++);
            }
        }
        return scores.OrderByDescending(p => p.Value).ThenBy(p => firstSeen[p.Key]).Select(p => (p.Key, p.Value)).ToList();
    }

    /// <summary>Top k of several score-sorted lists (scores comparable, higher better); ties keep list order.</summary>
    public static List<T> MergeTopK<T>(IEnumerable<IReadOnlyList<T>> lists, Func<T, double> score, int k) =>
        lists.SelectMany(l => l).OrderByDescending(score).Take(k).ToList();
}
