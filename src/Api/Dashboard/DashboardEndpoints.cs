using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Grains.Interfaces.Caching;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Dashboard;

/// <summary>The dashboard's picture of the cluster: silos now and over time, busiest grain methods, cache tiers, collections and recent queries.</summary>
public sealed record DashboardReply(DateTimeOffset GeneratedAt, ClusterInspector.SiloView[] Silos, ClusterSample[] History, MethodSummary[] Methods,
    DashboardCache Cache, DashboardCollection[] Collections, RecentQuery[] Queries);

/// <summary>One grain method summed over the silos: calls and errors add up; the mean is weighted by calls.</summary>
public sealed record MethodSummary(string Type, string Method, long Calls, long Errors, double MeanMs, double MaxMs);

public sealed record CacheTierRate(long Hits, long Misses, double? HitRate,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] int? Entries = null);

public sealed record DashboardCache(CacheTierRate L1, CacheTierRate L2, CacheTierRate L3);

public sealed record DashboardCollection(string Name, int Documents, ShardStats[] Shards, DashboardPlans Plans);

public sealed record DashboardPlans(Dictionary<string, long> Wins, Dictionary<string, double> MeanLatencyMs, long Queries, long OverBudget);

/// <summary>The data behind /dashboard (admin): the whole cluster now and recently, and one query's trace.</summary>
public static partial class DashboardEndpoints
{
    public static void MapDashboardEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/dashboard").RequireAuthorization(AuthSetup.Operator);
        group.MapGet("", GetDashboard);
        group.MapGet("/traces/{traceId}", GetTrace).ProducesProblem(400);
    }

    [EndpointName("GetDashboard"), EndpointSummary("The dashboard's picture of the cluster"), Tags("Cluster")]
    private static async Task<Ok<DashboardReply>> GetDashboard(HttpContext http, ClusterInspector inspector, DashboardSampler sampler, QueryLog queries, IGrainFactory grains)
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
            return new DashboardCollection(name, info.DocumentCount, shards, new DashboardPlans(plans.Wins, plans.MeanLatencyMs, plans.Queries, plans.OverBudget));
        }));
        var cache = await grains.GetGrain<ICacheTotalsGrain>("totals").Totals();
        var (l2Hits, l3Hits, misses) = (cache.L2Hits, cache.L3Hits, cache.Misses);
        // Methods summed over silos: calls and errors add up; the mean is weighted by calls.
        var methods = silos.SelectMany(s => s.Methods).GroupBy(m => (m.Type, m.Method)).Select(g => new MethodSummary(g.Key.Type, g.Key.Method, g.Sum(m => m.Calls), g.Sum(m => m.Errors),
            g.Sum(m => m.Calls) == 0 ? 0 : g.Sum(m => m.MeanMs * m.Calls) / g.Sum(m => m.Calls), g.Max(m => m.MaxMs))).OrderByDescending(m => m.Calls).Take(25).ToArray();
        return TypedResults.Ok(new DashboardReply(DateTimeOffset.UtcNow, silos, sampler.History(), methods,
            new DashboardCache(
                new CacheTierRate(cache.L1Hits, cache.L1Misses, Rate(cache.L1Hits, cache.L1Misses), cache.L1Entries),
                new CacheTierRate(l2Hits, misses + l3Hits, Rate(l2Hits, misses + l3Hits)),
                new CacheTierRate(l3Hits, misses, Rate(l3Hits, misses))),
            collections, queries.Recent(null, 50)));
    }

    [EndpointName("GetTrace"), EndpointSummary("Every recorded span of one trace, from every silo"), Tags("Cluster")]
    private static async Task<Results<Ok<Hosting.Diagnostics.RecordedSpan[]>, ProblemHttpResult>> GetTrace(string traceId, ClusterInspector inspector) =>
        TraceIdRegex().IsMatch(traceId)
                ? TypedResults.Ok(await inspector.TraceAsync(traceId))
                : RagEndpoints.Problem(400, "Invalid trace id", "a trace id is 32 lowercase hex digits");

    private static double? Rate(long hits, long misses) => hits + misses == 0 ? null : Math.Round((double)hits / (hits + misses), 4);

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex TraceIdRegex();
}
