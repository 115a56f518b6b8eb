using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.Limits;
using RagCluster.Grains.Interfaces.Caching;
using RagCluster.Grains.Interfaces.Diagnostics;
using RagCluster.Grains.Interfaces.Embedding;
using RagCluster.Hosting;
using RagCluster.Hosting.Diagnostics;

namespace RagCluster.Api.Cluster;

public sealed record LiveReply(string Status);

/// <summary>A ready silo: its id, each check, and the embedding model's state. Not ready is a 503 problem with "checks".</summary>
public sealed record ReadyReply(string Status, string Silo, Readiness.Checks Checks, string Detail, string Embedding);

/// <summary>The membership as this silo sees it: its view version, activations per grain type here, and every member.</summary>
public sealed record ClusterReply(string Silo, long ViewVersion, Dictionary<string, int> Activations, ClusterMemberReply[] Members);

public sealed record ClusterMemberReply(string SiloId, string Address, string Status, string Name);

public sealed record PingReply(string Key, string Silo);

/// <summary>Hits, misses and entries of one cache tier (L3 counts hits only: its misses are the computed queries).</summary>
public sealed record CacheTierReply(long Hits,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] long? Misses = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] long? Entries = null);

/// <summary>L1 of this silo; L2 and L3 summed over the cache partitions.</summary>
public sealed record CacheReply(CacheTierReply L1, CacheTierReply L2, CacheTierReply L3);

/// <summary>
/// Whether the cluster can embed texts now (a model is configured and a silo with the embedding role is active), why
/// not, the texts per second all silos embed together, and each silo's own report.
/// </summary>
public sealed record EmbeddingReply(bool Available, string Status, double TextsPerSecond, EmbeddingInfo[] Silos);

/// <summary>Health probes (anonymous, never rate limited), the cluster's membership, a placement ping, cache counters and the embedding model.</summary>
public static class ClusterEndpoints
{
    public static void MapClusterEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health/live", Live).AllowAnonymous().WithMetadata(new RateLimits.Unlimited());
        app.MapGet("/health/ready", Ready).AllowAnonymous().WithMetadata(new RateLimits.Unlimited()).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapGet("/v1/cluster", GetCluster).RequireAuthorization(AuthSetup.Operator);
        app.MapGet("/v1/cluster/ping/{key}", Ping).RequireAuthorization(AuthSetup.Operator).ProducesProblem(400);
        app.MapGet("/v1/cache", GetCacheStats).RequireAuthorization(AuthSetup.Operator);
        app.MapGet("/v1/embedding", GetEmbedding).RequireAuthorization(AuthSetup.Reader);
    }

    [EndpointName("Live"), EndpointSummary("Liveness probe"), Tags("Health")]
    private static Ok<LiveReply> Live() =>
        TypedResults.Ok(new LiveReply("live"));

    // Ready = store reachable, this silo joined, and the embedding model loaded if one is configured.
    [EndpointName("Ready"), EndpointSummary("Readiness probe: store, membership and model"), Tags("Health")]
    private static async Task<Results<Ok<ReadyReply>, ProblemHttpResult>> Ready(Readiness readiness)
    {
        var r = await readiness.CheckAsync();
        return r.Ready
            ? TypedResults.Ok(new ReadyReply("ready", r.SiloId, r.Checks, r.Detail, r.Embedding))
            : TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Silo not ready", detail: r.Detail,
                extensions: new Dictionary<string, object?> { ["checks"] = r.Checks });
    }

    [EndpointName("GetCluster"), EndpointSummary("The cluster's membership as this silo sees it"), Tags("Cluster")]
    private static async Task<Ok<ClusterReply>> GetCluster(IClusterMembershipService membership, ILocalSiloDetails self, ActivationCounts activations)
    {
        var view = membership.CurrentSnapshot;
        return TypedResults.Ok(new ClusterReply(self.SiloAddress.ToString(), view.Version.Value, await activations.ReadAsync(),
            view.Members.Values.OrderBy(m => m.SiloAddress.ToString(), StringComparer.Ordinal)
                .Select(m => new ClusterMemberReply(m.SiloAddress.ToString(), m.SiloAddress.Endpoint.ToString(), m.Status.ToString(), m.Name)).ToArray()));
    }

    // Round trip through placement and the transport: shows which silo owns a key.
    [EndpointName("Ping"), EndpointSummary("Which silo owns a key (a placement round trip)"), Tags("Cluster")]
    private static async Task<Results<Ok<PingReply>, ProblemHttpResult>> Ping(string key, IGrainFactory grains)
    {
        if (key.Length is 0 or > 256 || string.IsNullOrWhiteSpace(key)) return RagEndpoints.Problem(400, "Invalid key", "key must be 1..256 characters, not all white space");
        var reply = await grains.GetGrain<IPingGrain>(key).Ping([]);
        return TypedResults.Ok(new PingReply(key, reply.SiloId));
    }

    [EndpointName("GetCacheStats"), EndpointSummary("Query cache hits and misses per tier"), Tags("Cluster")]
    private static async Task<Ok<CacheReply>> GetCacheStats(IGrainFactory grains)
    {
        var t = await grains.GetGrain<ICacheTotalsGrain>("totals").Totals();
        return TypedResults.Ok(new CacheReply(new CacheTierReply(t.L1Hits, t.L1Misses, t.L1Entries), new CacheTierReply(t.L2Hits, t.Misses, t.Entries), new CacheTierReply(t.L3Hits)));
    }

    // The cluster's embedding: whether texts can be embedded now, and each silo's roles, device and throughput.
    [EndpointName("GetEmbedding"), EndpointSummary("Whether the cluster can embed now, and each silo's model, device and throughput"), Tags("Cluster")]
    private static async Task<Ok<EmbeddingReply>> GetEmbedding(IGrainFactory grains, Dashboard.ClusterInspector inspector)
    {
        var silos = await inspector.EmbeddingAsync();
        var (why, model) = await grains.GetGrain<ITextEmbeddingGrain>("texts").Availability();
        var embedding = silos.Where(s => s.Available).ToArray();
        return TypedResults.Ok(new EmbeddingReply(why is null, why ?? $"dense retrieval on: {model}, {embedding.Length} embedding silo(s)",
            embedding.Sum(s => s.TextsPerSecond), silos));
    }
}
