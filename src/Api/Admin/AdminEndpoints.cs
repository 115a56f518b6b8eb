using Microsoft.AspNetCore.Authorization;
using RagCluster.Api.Auth;
using RagCluster.Grains.Auditing;
using RagCluster.Grains.Interfaces.Rag;
using Orleans;

namespace RagCluster.Api.Admin;

public sealed record CreateKeyJson(string? Tenant, string? Role, string? Description);

/// <summary>
/// /v1/admin: API keys (create, list, rotate, revoke), the audit trail, and the endpoint list with each endpoint's
/// required role. Admin is the operator role: it manages the keys of every tenant.
/// </summary>
public static partial class AdminEndpoints
{
    public static void MapAdminEndpoints(this WebApplication app)
    {
        var admin = app.MapGroup("/v1/admin").RequireAuthorization(AuthSetup.Admin);

        admin.MapPost("/keys", async (HttpContext http, IGrainFactory grains) =>
        {
            var (body, error) = await RagEndpoints.ReadJson<CreateKeyJson>(http.Request);
            if (error is not null) return error;
            var tenant = body!.Tenant ?? http.User.RequiredTenant();
            if (body.Role is null) return RagEndpoints.Problem(400, "Missing role", $"role must be one of {string.Join(", ", Roles.All)}");
            var created = await grains.GetGrain<IApiKeyGrain>(Grains.Security.ApiKeyFormat.NewKeyId()).Create(tenant, body.Role, body.Description ?? "");
            return Results.Created($"/v1/admin/keys/{created.KeyId}", KeyJson(created));
        });

        admin.MapGet("/keys", async (string? tenant, HttpContext http, IGrainFactory grains) =>
        {
            tenant ??= http.User.RequiredTenant();
            if (!Grains.Naming.Names.IsName(tenant)) return RagEndpoints.Problem(400, "Invalid tenant", "tenant must be " + Grains.Naming.Names.NameRule);
            var ids = await grains.GetGrain<ITenantGrain>(tenant).KeyIds();
            var infos = await Task.WhenAll(ids.Select(id => grains.GetGrain<IApiKeyGrain>(id).GetInfo()));
            return Results.Ok(infos.Where(i => i is not null).Select(i => KeyJson(i!)));
        });

        admin.MapGet("/keys/{keyId}", async (string keyId, IGrainFactory grains) =>
            await Existing(keyId, grains) is { } info ? Results.Ok(KeyJson(info)) : KeyNotFound(keyId));

        admin.MapPost("/keys/{keyId}/rotate", async (string keyId, IGrainFactory grains) =>
            await Existing(keyId, grains) is null ? KeyNotFound(keyId) : Results.Ok(KeyJson(await grains.GetGrain<IApiKeyGrain>(keyId).Rotate())));

        admin.MapDelete("/keys/{keyId}", async (string keyId, IGrainFactory grains) =>
            await Existing(keyId, grains) is null ? KeyNotFound(keyId) : Results.Ok(KeyJson(await grains.GetGrain<IApiKeyGrain>(keyId).Revoke())));

        // Newest first. from/to default to the last 24 hours; at most 31 days per query.
        admin.MapGet("/audit", async (DateTimeOffset? from, DateTimeOffset? to, string? tenant, string? keyId, int? limit, IGrainFactory grains) =>
        {
            var until = to ?? DateTimeOffset.UtcNow;
            var since = from ?? until.AddDays(-1);
            if (since > until || until - since > TimeSpan.FromDays(31)) return RagEndpoints.Problem(400, "Invalid range", "from must precede to, at most 31 days apart");
            if (limit is < 1 or > 10_000) return RagEndpoints.Problem(400, "Invalid limit", "limit must be 1..10000");
            var query = new AuditQuery(since, until, tenant, keyId, limit ?? 100);
            var result = new List<AuditEntry>();
            for (var day = until.UtcDateTime.Date; day >= since.UtcDateTime.Date && result.Count < query.Limit; day = day.AddDays(-1))
                result.AddRange(await grains.GetGrain<IAuditGrain>(AuditGrain.KeyFor(new DateTimeOffset(day, TimeSpan.Zero)))
                    .Query(query with { Limit = query.Limit - result.Count }));
            return Results.Ok(result);
        });

        // Every endpoint and what it requires, so tests (and operators) can check that none is left open by mistake.
        admin.MapGet("/endpoints", (EndpointDataSource endpoints) => Results.Ok(endpoints.Endpoints.OfType<RouteEndpoint>().Select(e => new
        {
            route = "/" + e.RoutePattern.RawText?.TrimStart('/'),
            methods = e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [],
            access = e.Metadata.GetMetadata<IAllowAnonymous>() is not null ? "anonymous"
                : e.Metadata.GetOrderedMetadata<IAuthorizeData>().LastOrDefault(a => a.Policy is not null)?.Policy ?? AuthSetup.Admin + " (fallback)",
        })));
    }

    private static async Task<ApiKeyInfo?> Existing(string keyId, IGrainFactory grains) =>
        Grains.Security.ApiKeyFormat.IsKeyId(keyId) ? await grains.GetGrain<IApiKeyGrain>(keyId).GetInfo() : null;

    private static IResult KeyNotFound(string keyId) => RagEndpoints.Problem(404, "Key not found", $"no API key '{keyId}'");

    /// <summary>The secret appears only in create and rotate replies, as the full key to send.</summary>
    private static object KeyJson(ApiKeyInfo k) => new
    {
        keyId = k.KeyId, tenant = k.Tenant, role = k.Role, description = k.Description, createdAt = k.CreatedAt, revokedAt = k.RevokedAt, key = k.Secret,
    };
}
