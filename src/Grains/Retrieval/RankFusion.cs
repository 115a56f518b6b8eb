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

    /// <summary>
    /// Relative score fusion (Weaviate's default since 1.24): each list's scores scaled to 0..1 by its own minimum and
    /// maximum (all equal: 1), then score(d) = Σ weight_i × scaled_i(d), a list that lacks d adding nothing. Unlike ranks,
    /// it keeps how far apart the hits are, so one strong match on one side outweighs a weak match on the other.
    /// </summary>
    public static List<(TKey Key, double Score)> Relative<TKey>(IReadOnlyList<IReadOnlyList<(TKey Key, double Score)>> lists, IReadOnlyList<double> weights)
        where TKey : notnull
    {
        var scores = new Dictionary<TKey, double>();
        var firstSeen = new Dictionary<TKey, int>();
        var order = 0;
        for (var r = 0; r < lists.Count; r++)
        {
            var list = lists[r];
            if (list.Count == 0) continue;
            var (min, max) = (list.Min(x => x.Score), list.Max(x => x.Score));
            foreach (var (key, score) in list)
            {
                var scaled = max > min ? (score - min) / (max - min) : 1.0;
                scores[key] = scores.GetValueOrDefault(key) + weights[r] * scaled;
                firstSeen.TryAdd(key, order++);
            }
        }
        return scores.OrderByDescending(p => p.Value).ThenBy(p => firstSeen[p.Key]).Select(p => (p.Key, p.Value)).ToList();
    }

    /// <summary>Top k of several score-sorted lists (scores comparable, higher better); ties keep list order.</summary>
    public static List<T> MergeTopK<T>(IEnumerable<IReadOnlyList<T>> lists, Func<T, double> score, int k) =>
        lists.SelectMany(l => l).OrderByDescending(score).Take(k).ToList();
}
