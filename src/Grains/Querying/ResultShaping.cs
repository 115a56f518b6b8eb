using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Grains.Querying;

/// <summary>
/// A plan's ranking into what the caller asked for: hits at or above a score threshold, a page of them (offset), or
/// documents with their best chunks (groupBy "document", Qdrant's search groups).
/// </summary>
internal static class ResultShaping
{
    private const int MaxWindow = QueryLimits.MaxWindow;

    /// <summary>
    /// How many hits each side of each shard must return: twice the page (deeper pools fuse better), at least 20; a
    /// group of documents needs more chunks (three per chunk shown, since a document's chunks crowd the top); any page
    /// ranks the whole 1,000-deep window, so the order is one order whichever page is asked.
    /// </summary>
    public static int Depth(SearchRequest request) =>
        request.Offset is not null ? MaxWindow
        : request.GroupBy is not null ? Math.Min(MaxWindow, Math.Max(request.TopK * (request.GroupSize ?? 1) * 3, 40))
        : Math.Max(request.TopK * 2, 20);

    public static (SearchHit[] Hits, SearchGroup[]? Groups) Shape(IEnumerable<(SearchHit Hit, double Score)> ranking, SearchRequest request)
    {
        var kept = request.ScoreThreshold is { } threshold ? ranking.Where(r => r.Score >= threshold) : ranking;
        var skip = request.Offset ?? 0;
        if (request.GroupBy is null)
        {
            var hits = kept.Skip(skip).Take(request.TopK).Select(r => r.Hit with { Score = r.Score }).ToArray();
            return (hits, null);
        }
        var size = request.GroupSize ?? 1;
        var groups = new List<(string Document, double Score, List<SearchHit> Hits)>();
        var byDocument = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (hit, score) in kept)
        {
            if (!byDocument.TryGetValue(hit.DocumentId, out var g))
            {
                if (groups.Count == skip + request.TopK) continue; // a document past the page: its chunks may still fill one on it
                byDocument[hit.DocumentId] = g = groups.Count;
                groups.Add((hit.DocumentId, score, []));
            }
            if (groups[g].Hits.Count < size) groups[g].Hits.Add(hit with { Score = score });
        }
        var page = groups.Skip(skip).Select(g => new SearchGroup(g.Document, g.Score, [.. g.Hits])).ToArray();
        return ([.. page.SelectMany(g => g.Hits)], page);
    }
}
