using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Admin;

/// <summary>
/// The body of PUT /v1/admin/tenants/{tenant}/limits, replaced whole: what the tenant may store, each absent or null
/// unlimited. Vectors are chunks; bytes are the chunks' text and own vectors (see docs/security.md).
/// </summary>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)] // "chunks" or a typo must not pass as "no limit"
public sealed record TenantLimitsRequest(long? Collections = null, long? Documents = null, long? Vectors = null, long? Bytes = null);

/// <summary>What a tenant holds (or a collection of it): documents, vectors and bytes.</summary>
public sealed record StoredReply(long Documents, long Vectors, long Bytes);

/// <summary>A tenant's usage, its limits (null: unlimited) and each collection's share.</summary>
public sealed record TenantUsageReply(string Tenant, long Collections, long Documents, long Vectors, long Bytes, TenantLimitsRequest Limits,
    Dictionary<string, StoredReply> ByCollection);

/// <summary>
/// /v1/admin/tenants/{tenant}: a tenant's share. An operator sets its limits; the tenant's admin (or an operator) reads
/// its usage and limits. Another tenant's reads as 404, as its keys and audit do.
/// </summary>
public static partial class AdminEndpoints
{
    private static void MapTenantEndpoints(RouteGroupBuilder admin)
    {
        admin.MapPut("/tenants/{tenant}/limits", SetTenantLimits).RequireAuthorization(AuthSetup.Operator).Reads<TenantLimitsRequest>("application/json").ProducesProblem(400);
        admin.MapGet("/tenants/{tenant}/limits", GetTenantLimits).ProducesProblem(400);
        admin.MapGet("/tenants/{tenant}/usage", GetTenantUsage).ProducesProblem(400);
    }

    // Lowering a limit below the usage refuses the writes that would grow past it; nothing stored is taken away.
    [EndpointName("SetTenantLimits"), EndpointSummary("Set what a tenant may store (operator)"), Tags("Admin")]
    private static async Task<Results<Ok<TenantLimitsRequest>, ProblemHttpResult>> SetTenantLimits(string tenant, HttpContext http, IGrainFactory grains)
    {
        if (TenantProblem(tenant) is { } bad) return bad;
        var (body, error) = await RagEndpoints.ReadJson<TenantLimitsRequest>(http.Request);
        if (error is not null) return error;
        var limits = new TenantLimits(body!.Collections, body.Documents, body.Vectors, body.Bytes);
        if (limits.Problem() is { } invalid) return RagEndpoints.Problem(400, "Invalid limits", invalid);
        await grains.GetGrain<ITenantGrain>(tenant).SetLimits(limits);
        return TypedResults.Ok(LimitsJson(limits));
    }

    [EndpointName("GetTenantLimits"), EndpointSummary("Read a tenant's limits"), Tags("Admin")]
    private static async Task<Results<Ok<TenantLimitsRequest>, ProblemHttpResult>> GetTenantLimits(string tenant, HttpContext http, IGrainFactory grains) =>
        Unseen(tenant, http) is { } refused ? refused : TypedResults.Ok(LimitsJson(await grains.GetGrain<ITenantGrain>(tenant).GetLimits()));

    // Counted by each collection with its registry, so it is what is stored (and accepted), not an estimate.
    [EndpointName("GetTenantUsage"), EndpointSummary("Read what a tenant stores, against its limits"), Tags("Admin")]
    private static async Task<Results<Ok<TenantUsageReply>, ProblemHttpResult>> GetTenantUsage(string tenant, HttpContext http, IGrainFactory grains)
    {
        if (Unseen(tenant, http) is { } refused) return refused;
        var usage = await grains.GetGrain<ITenantGrain>(tenant).Usage();
        return TypedResults.Ok(new TenantUsageReply(usage.Tenant, usage.Collections, usage.Stored.Documents, usage.Stored.Vectors, usage.Stored.Bytes,
            LimitsJson(usage.Limits), usage.ByCollection.ToDictionary(c => c.Key, c => new StoredReply(c.Value.Documents, c.Value.Vectors, c.Value.Bytes))));
    }

    private static ProblemHttpResult? TenantProblem(string tenant) =>
        Grains.Interfaces.Naming.Names.IsName(tenant) ? null : RagEndpoints.Problem(400, "Invalid tenant", "tenant must be " + Grains.Interfaces.Naming.Names.NameRule);

    /// <summary>Null when the caller may read <paramref name="tenant"/>'s share: an operator, or that tenant's admin.</summary>
    private static ProblemHttpResult? Unseen(string tenant, HttpContext http) =>
        TenantProblem(tenant) ?? (MaySee(http.User, tenant) ? null : TenantNotFound(tenant));

    private static TenantLimitsRequest LimitsJson(TenantLimits l) => new(l.Collections, l.Documents, l.Vectors, l.Bytes);
}
