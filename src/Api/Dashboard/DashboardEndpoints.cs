using System.Text.RegularExpressions;
using RagCluster.Api.Auth;
using RagCluster.Grains.Caching;
using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.Security;
using Orleans;

namespace RagCluster.Api.Dashboard;

/// <summary>The data behind /dashboard (admin): the whole cluster now and recently, and one query's trace.</summary>
public static partial class DashboardEndpoints
{
    public static void MapDashboardEndpoints(this WebApplication app)
    {
        var group = app.MapGroup("/v1/dashboard").RequireAuthorization(AuthSetup.Operator);

        group.MapGet("", async (HttpContext http, ClusterInspector inspector, DashboardSampler sampler, QueryLog queries, IGrainFactory grains, QueryCache l1) =>
        {
            var silos = await inspector.SilosAsync();
            var tenant = http.User.RequiredTenant();
            var names = await grains.GetGrain<ITenantGrain>(tenant).Collections();
            var collections = await Task.WhenAll(names.Take(50).Select(async name =>
            {
                var key = TenantScope.CollectionKey(tenant, name);
                var info = await grains.GetGrain<ICollectionGrain>(key).GetInfo();
                var shards = await Task.WhenAll(info.Settings.Layout.ShardKeys(key).Select(shard => grains.GetGrain<IIndexShardGrain>(shard).GetStats()));
                var plans = await grains.GetGrain<IQueryPlanGrain>(key).GetStats();
                return new { name, documents = info.DocumentCount, shards, plans = new { plans.Wins, plans.MeanLatencyMs, plans.Queries, plans.OverBudget } };
            }));
            var (l2Hits, l3Hits, misses, _) = await CacheGrain.TotalsAsync(grains);
            // Methods summed over silos: calls and errors add up; the mean is weighted by calls.
            var methods = silos.SelectMany(s => s.Methods).GroupBy(m => (m.Type, m.Method)).Select(g => new
            {
                type = g.Key.Type, method = g.Key.Method, calls = g.Sum(m => m.Calls), errors = g.Sum(m => m.Errors),
                meanMs = g.Sum(m => m.Calls) == 0 ? 0 : g.Sum(m => m.MeanMs * m.Calls) / g.Sum(m => m.Calls), maxMs = g.Max(m => m.MaxMs),
            }).OrderByDescending(m => m.calls).Take(25).ToArray();
            return Results.Ok(new
            {
                generatedAt = DateTimeOffset.UtcNow,
                silos,
                history = sampler.History(),
                methods,
                cache = new
                {
                    l1 = new { hits = l1.Hits, misses = l1.Misses, entries = l1.Count, hitRate = Rate(l1.Hits, l1.Misses) },
                    l2 = new { hits = l2Hits, misses = misses + l3Hits, hitRate = Rate(l2Hits, misses + l3Hits) },
                    l3 = new { hits = l3Hits, misses, hitRate = Rate(l3Hits, misses) },
                },
                collections,
                queries = queries.Recent(null, 50),
            });
        });

        group.MapGet("/traces/{traceId}", async (string traceId, ClusterInspector inspector) =>
            TraceIdRegex().IsMatch(traceId)
                ? Results.Ok(await inspector.TraceAsync(traceId))
                : RagEndpoints.Problem(400, "Invalid trace id", "a trace id is 32 lowercase hex digits"));
    }

    private static double? Rate(long hits, long misses) => hits + misses == 0 ? null : Math.Round((double)hits / (hits + misses), 4);

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex TraceIdRegex();
}
