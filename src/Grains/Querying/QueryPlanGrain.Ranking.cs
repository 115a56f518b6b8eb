using System.Diagnostics;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Grains.Querying;

// The ranking: every candidate plan over the shards' hits (fused on demand), the one asked for or the default, shaped.
public sealed partial class QueryPlanGrain
{
    private SearchResponse Rank(SearchScope search, ShardResult[] results, bool dense, HybridFusion fusion, SearchSteps steps, Stopwatch sw)
    {
        var request = search.Request;
        var plans = new CandidatePlans(results, dense, lexical: search.HasText, fusion);
        string chosen;
        if (request.Plan is { } wanted && wanted != "auto")
            chosen = plans.Has(wanted) ? wanted
                : throw new InvalidRequestException(wanted == "bm25" ? "plan 'bm25' needs query text"
                    : search.Info.Settings.Dimensions is null ? $"plan '{wanted}' needs dense retrieval, which is off on this cluster"
                    : $"plan '{wanted}' needs a query vector{(wanted.StartsWith("hybrid") ? " and query text" : "")}");
        else
            chosen = plans.Default;

        var (hits, groups) = ResultShaping.Shape(plans.Ranking(chosen).Select(c =>
        {
            var h = plans.Hit(c.Hit);
            return (new SearchHit(h.DocumentId, h.ChunkId, h.Ordinal, h.Start, h.End, h.Text, h.HeadingPath, c.Score), c.Score);
        }), request);
        steps.Done("ranking");
        var elapsed = sw.Elapsed.TotalMilliseconds;
        RagMetrics.QuerySeconds.Record(elapsed / 1000, RagMetrics.Tag("plan", chosen));
        _queries++;
        _wins[chosen]++;
        var (total, count) = _latency.GetValueOrDefault(chosen);
        _latency[chosen] = (total + elapsed, count + 1);
        return new SearchResponse(chosen, hits, false, elapsed, plans.Names.ToArray(), null)
        {
            Groups = groups,
            Explain = request.Explain ? new SearchExplain(steps.ToString(), [.. results.Select(r => new ShardExplain(r.Shard, r.Walk, r.Matching, r.Copy))]) : null,
        };
    }
}
