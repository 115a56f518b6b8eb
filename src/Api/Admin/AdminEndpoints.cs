using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Auditing;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Admin;

/// <summary>
/// The body of POST /v1/admin/keys: the key's role (reader, writer, admin, operator), its tenant (the caller's by
/// default), a description, and the groups whose documents it reads in collections with an access field.
/// </summary>
public sealed record CreateKeyRequest(string? Role, string? Tenant = null, string? Description = null, List<string?>? Groups = null);

/// <summary>The body of PATCH /v1/admin/keys/{keyId}: the key's groups, replaced whole.</summary>
public sealed record UpdateKeyRequest(List<string?>? Groups);

/// <summary>An API key; "key" (the full key to send) appears only in the create and rotate replies.</summary>
public sealed record ApiKeyReply(string KeyId, string Tenant, string Role, string Description, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string? Key,
    string[] Groups);

/// <summary>An endpoint and who may call it: anonymous, or the role policy it requires.</summary>
public sealed record EndpointAccess(string Route, IReadOnlyList<string> Methods, string Access);

/// <summary>
/// /v1/admin: API keys (create, list, rotate, revoke), the audit trail, and the endpoint list with each endpoint's
/// required role. An operator manages the keys and reads the audit of every tenant; a tenant admin only its own
/// tenant's, and another tenant's key or audit reads as 404. No key mints, rotates or revokes a key of a higher role
/// than its own.
/// </summary>
public static partial class AdminEndpoints
{
    public static void MapAdminEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/v1/admin").RequireAuthorization(AuthSetup.Admin);
        admin.MapPost("/keys", CreateApiKey).Reads<CreateKeyRequest>("application/json").ProducesProblem(400);
        admin.MapGet("/keys", ListApiKeys).ProducesProblem(400);
        admin.MapGet("/keys/{keyId}", GetApiKey);
        admin.MapPatch("/keys/{keyId}", UpdateApiKey).Reads<UpdateKeyRequest>("application/json").ProducesProblem(400);
        admin.MapPost("/keys/{keyId}/rotate", RotateApiKey);
        admin.MapDelete("/keys/{keyId}", RevokeApiKey);
        admin.MapGet("/audit", ReadAuditTrail).ProducesProblem(400);
        admin.MapGet("/endpoints", ListEndpoints);
        MapTenantEndpoints(admin);
    }

    [EndpointName("CreateApiKey"), EndpointSummary("Create an API key"), Tags("Admin")]
    private static async Task<Results<Created<ApiKeyReply>, ProblemHttpResult>> CreateApiKey(HttpContext http, IGrainFactory grains)
    {
        var (body, error) = await RagEndpoints.ReadJson<CreateKeyRequest>(http.Request);
        if (error is not null) return error;
        var tenant = body!.Tenant ?? http.User.RequiredTenant();
        if (body.Role is null) return RagEndpoints.Problem(400, "Missing role", $"role must be one of {string.Join(", ", Roles.All)}");
        if (!MaySee(http.User, tenant))
            return RagEndpoints.Problem(403, "Forbidden", "a tenant admin creates keys of its own tenant only");
        if (Roles.Rank(body.Role) > Roles.Rank(http.User.Role()))
            return RagEndpoints.Problem(403, "Forbidden", $"role '{http.User.Role()}' may not create a key of role '{body.Role}'");
        if (ReadAccess.GroupsProblem(body.Groups) is { } badGroups) return RagEndpoints.Problem(400, "Invalid groups", badGroups);
        var created = await grains.GetGrain<IApiKeyGrain>(Grains.Interfaces.Security.ApiKeyFormat.NewKeyId()).Create(tenant, body.Role, body.Description ?? "",
            body.Groups?.Select(g => g!).ToArray());
        return TypedResults.Created($"/v1/admin/keys/{created.KeyId}", KeyJson(created, http));
    }

    [EndpointName("ListApiKeys"), EndpointSummary("List API keys"), Tags("Admin")]
    private static async Task<Results<Ok<ApiKeyReply[]>, ProblemHttpResult>> ListApiKeys(string? tenant, HttpContext http, IGrainFactory grains)
    {
        tenant ??= http.User.RequiredTenant();
        if (!Grains.Interfaces.Naming.Names.IsName(tenant)) return RagEndpoints.Problem(400, "Invalid tenant", "tenant must be " + Grains.Interfaces.Naming.Names.NameRule);
        if (!MaySee(http.User, tenant)) return TenantNotFound(tenant);
        var ids = await grains.GetGrain<ITenantGrain>(tenant).KeyIds();
        var infos = await Task.WhenAll(ids.Select(id => grains.GetGrain<IApiKeyGrain>(id).GetInfo()));
        return TypedResults.Ok(infos.Where(i => i is not null).Select(i => KeyJson(i!, http)).ToArray());
    }

    [EndpointName("GetApiKey"), EndpointSummary("Read an API key's details"), Tags("Admin")]
    private static async Task<Results<Ok<ApiKeyReply>, ProblemHttpResult>> GetApiKey(string keyId, HttpContext http, IGrainFactory grains) =>
        await Visible(keyId, http, grains) is { } info ? TypedResults.Ok(KeyJson(info, http)) : KeyNotFound(keyId);

    // The groups are the key's read rights in collections with an access field; a key's next request uses them (within Auth:CacheSeconds).
    [EndpointName("UpdateApiKey"), EndpointSummary("Change an API key's groups"), Tags("Admin")]
    private static async Task<Results<Ok<ApiKeyReply>, ProblemHttpResult>> UpdateApiKey(string keyId, HttpContext http, IGrainFactory grains)
    {
        var (body, error) = await RagEndpoints.ReadJson<UpdateKeyRequest>(http.Request);
        if (error is not null) return error;
        if (body!.Groups is null) return RagEndpoints.Problem(400, "Missing groups", "the JSON body needs \"groups\": an array of group names ([] for none)");
        if (ReadAccess.GroupsProblem(body.Groups) is { } badGroups) return RagEndpoints.Problem(400, "Invalid groups", badGroups);
        return await Manageable(keyId, http, grains) is { } refused ? refused
            : TypedResults.Ok(KeyJson(await grains.GetGrain<IApiKeyGrain>(keyId).SetGroups(body.Groups.Select(g => g!).ToArray()), http));
    }

    [EndpointName("RotateApiKey"), EndpointSummary("Replace an API key's secret"), Tags("Admin")]
    private static async Task<Results<Ok<ApiKeyReply>, ProblemHttpResult>> RotateApiKey(string keyId, HttpContext http, IGrainFactory grains) =>
        await Manageable(keyId, http, grains) is { } refused ? refused : TypedResults.Ok(KeyJson(await grains.GetGrain<IApiKeyGrain>(keyId).Rotate(), http));

    [EndpointName("RevokeApiKey"), EndpointSummary("Revoke an API key"), Tags("Admin")]
    private static async Task<Results<Ok<ApiKeyReply>, ProblemHttpResult>> RevokeApiKey(string keyId, HttpContext http, IGrainFactory grains) =>
        await Manageable(keyId, http, grains) is { } refused ? refused : TypedResults.Ok(KeyJson(await grains.GetGrain<IApiKeyGrain>(keyId).Revoke(), http));

    // Newest first. from/to default to the last 24 hours; at most 31 days per query. A tenant admin reads its own tenant's.
    [EndpointName("ReadAuditTrail"), EndpointSummary("Read the audit trail"), Tags("Admin")]
    private static async Task<Results<Ok<List<AuditEntry>>, ProblemHttpResult>> ReadAuditTrail(DateTimeOffset? from, DateTimeOffset? to, string? tenant, string? keyId, int? limit, HttpContext http, IGrainFactory grains)
    {
        var until = to ?? DateTimeOffset.UtcNow;
        var since = from ?? until.AddDays(-1);
        if (since > until || until - since > TimeSpan.FromDays(31)) return RagEndpoints.Problem(400, "Invalid range", "from must precede to, at most 31 days apart");
        if (limit is < 1 or > 10_000) return RagEndpoints.Problem(400, "Invalid limit", "limit must be 1..10000");
        if (!IsOperator(http.User))
        {
            if (tenant is not null && tenant != http.User.RequiredTenant()) return TenantNotFound(tenant);
            tenant = http.User.RequiredTenant();
        }
        var query = new AuditQuery(since, until, tenant, keyId, limit ?? 100);
        var result = new List<AuditEntry>();
        for (var day = until.UtcDateTime.Date; day >= since.UtcDateTime.Date && result.Count < query.Limit; day = day.AddDays(-1))
            result.AddRange(await grains.AuditDay(new DateTimeOffset(day, TimeSpan.Zero))
                .Query(query with { Limit = query.Limit - result.Count }));
        return TypedResults.Ok(result);
    }

    // Every endpoint and the role it needs, so tests (and operators) can check that none is left open by mistake.
    [EndpointName("ListEndpoints"), EndpointSummary("List the API's endpoints and who may call them"), Tags("Admin")]
    private static Ok<EndpointAccess[]> ListEndpoints(EndpointDataSource endpoints) =>
        TypedResults.Ok(endpoints.Endpoints.OfType<RouteEndpoint>().Select(e => new EndpointAccess(
            "/" + e.RoutePattern.RawText?.TrimStart('/'),
            e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [],
            e.Metadata.GetMetadata<IAllowAnonymous>() is not null ? "anonymous"
                : e.Metadata.GetOrderedMetadata<IAuthorizeData>().LastOrDefault(a => a.Policy is not null)?.Policy ?? AuthSetup.Operator + " (fallback)")).ToArray());

    private static bool IsOperator(ClaimsPrincipal user) => user.Role() == Roles.Operator;

    /// <summary>Whether <paramref name="user"/> may see <paramref name="tenant"/>'s keys and audit: an operator, or an admin of that tenant.</summary>
    public static bool MaySee(ClaimsPrincipal user, string tenant) => IsOperator(user) || user.Tenant() == tenant;

    /// <summary>The key, if it exists and the caller may see its tenant; otherwise null (answered 404, as a key that does not exist).</summary>
    private static async Task<ApiKeyInfo?> Visible(string keyId, HttpContext http, IGrainFactory grains) =>
        Grains.Interfaces.Security.ApiKeyFormat.IsKeyId(keyId) && await grains.GetGrain<IApiKeyGrain>(keyId).GetInfo() is { } info && MaySee(http.User, info.Tenant)
            ? info : null;

    /// <summary>Null when the caller may rotate or revoke the key; otherwise the problem to answer (404 unseen, 403 a higher role).</summary>
    private static async Task<ProblemHttpResult?> Manageable(string keyId, HttpContext http, IGrainFactory grains)
    {
        if (await Visible(keyId, http, grains) is not { } info) return KeyNotFound(keyId);
        var role = RoleOf(info, http);
        return Roles.Rank(role) > Roles.Rank(http.User.Role())
            ? RagEndpoints.Problem(403, "Forbidden", $"role '{http.User.Role()}' may not change a key of role '{role}'")
            : null;
    }

    /// <summary>The role a key has now (a key stored before the operator role existed is upgraded, see <see cref="Roles.Upgraded"/>).</summary>
    private static string RoleOf(ApiKeyInfo k, HttpContext http) =>
        Roles.Upgraded(k.Role, k.RoleSchema, k.Tenant, http.RequestServices.GetRequiredService<AuthOptions>().BootstrapTenant);

    private static ProblemHttpResult KeyNotFound(string keyId) => RagEndpoints.Problem(404, "Key not found", $"no API key '{keyId}'");

    private static ProblemHttpResult TenantNotFound(string tenant) => RagEndpoints.Problem(404, "Tenant not found", $"no tenant '{tenant}' visible to this key");

    /// <summary>The secret appears only in create and rotate replies, as the full key to send.</summary>
    private static ApiKeyReply KeyJson(ApiKeyInfo k, HttpContext http) =>
        new(k.KeyId, k.Tenant, RoleOf(k, http), k.Description, k.CreatedAt, k.RevokedAt, k.Secret, k.Groups);
}
