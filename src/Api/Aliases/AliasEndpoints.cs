using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Aliases;
using RagCluster.Grains.Interfaces.Naming;

namespace RagCluster.Api.Aliases;

/// <summary>
/// /v1/aliases: names that stand for one of the tenant's collections on every route that takes a collection (HTTP,
/// MCP, the client, the CLI, VectorData), moved atomically, as Elasticsearch's, Qdrant's and Milvus's aliases. A
/// request resolves its alias once, so a move under load answers each request from the old collection or the new.
/// An operator names another tenant with ?tenant=.
/// </summary>
public static class AliasEndpoints
{
    public static void MapAliasEndpoints(this IEndpointRouteBuilder app)
    {
        var aliases = app.MapGroup("/v1/aliases");
        aliases.MapGet("", ListAliases).RequireAuthorization(AuthSetup.Reader).ProducesProblem(404);
        aliases.MapGet("/{alias}", GetAlias).RequireAuthorization(AuthSetup.Reader).ProducesProblem(400).ProducesProblem(404);
        aliases.MapPut("/{alias}", SetAlias).RequireAuthorization(AuthSetup.Writer).Reads<SetAliasRequest>("application/json").ProducesProblem(400).ProducesProblem(404).ProducesProblem(409);
        aliases.MapDelete("/{alias}", DeleteAlias).RequireAuthorization(AuthSetup.Writer).ProducesProblem(400).ProducesProblem(404);
    }

    [EndpointName("ListAliases"), EndpointSummary("List the tenant's collection aliases"), Tags("Aliases")]
    private static async Task<Results<Ok<AliasReply[]>, ProblemHttpResult>> ListAliases(string? tenant, HttpContext http, IGrainFactory grains) =>
        Scope(tenant, http) is not { } t ? TenantNotFound(tenant!)
            : TypedResults.Ok((await grains.GetGrain<IAliasesGrain>(t).List()).Select(Reply).ToArray());

    [EndpointName("GetAlias"), EndpointSummary("Read which collection an alias names"), Tags("Aliases")]
    private static async Task<Results<Ok<AliasReply>, ProblemHttpResult>> GetAlias(string alias, string? tenant, HttpContext http, IGrainFactory grains)
    {
        if (Scope(tenant, http) is not { } t) return TenantNotFound(tenant!);
        if (RagEndpoints.Valid(alias) is { } bad) return bad;
        return (await grains.GetGrain<IAliasesGrain>(t).List()).FirstOrDefault(a => a.Alias == alias) is { } found
            ? TypedResults.Ok(Reply(found)) : AliasNotFound(alias);
    }

    // Creates the alias or moves it: one stored change, so each request after it sees the new collection and none a mix.
    [EndpointName("SetAlias"), EndpointSummary("Create an alias, or move it to another collection atomically"), Tags("Aliases")]
    private static async Task<Results<Ok<AliasReply>, ProblemHttpResult>> SetAlias(string alias, string? tenant, HttpContext http, IGrainFactory grains)
    {
        if (Scope(tenant, http) is not { } t) return TenantNotFound(tenant!);
        if (!Names.IsName(alias)) return RagEndpoints.Problem(400, "Invalid alias", "alias: must be " + Names.NameRule);
        var (body, error) = await RagEndpoints.ReadJson<SetAliasRequest>(http.Request);
        if (error is not null) return error;
        if (body!.Collection is null) return RagEndpoints.Problem(400, "Missing collection", "collection: the JSON body needs \"collection\", the collection the alias names");
        return TypedResults.Ok(Reply(await grains.GetGrain<IAliasesGrain>(t).Set(alias, body.Collection)));
    }

    // The collection it named stays; requests naming the alias answer 404 from now on.
    [EndpointName("DeleteAlias"), EndpointSummary("Delete an alias (not its collection)"), Tags("Aliases")]
    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAlias(string alias, string? tenant, HttpContext http, IGrainFactory grains)
    {
        if (Scope(tenant, http) is not { } t) return TenantNotFound(tenant!);
        if (RagEndpoints.Valid(alias) is { } bad) return bad;
        return await grains.GetGrain<IAliasesGrain>(t).Remove(alias) is null ? AliasNotFound(alias) : TypedResults.NoContent();
    }

    /// <summary>The tenant the request is about: the caller's, or for an operator the one named; null for any other tenant (404).</summary>
    private static string? Scope(string? tenant, HttpContext http) =>
        tenant is null || tenant == http.User.Tenant() ? http.User.RequiredTenant()
        : http.User.Role() == Grains.Interfaces.Security.Roles.Operator && Names.IsName(tenant) ? tenant : null;

    private static AliasReply Reply(CollectionAlias a) => new(a.Alias, a.Collection, a.UpdatedAt);

    private static ProblemHttpResult AliasNotFound(string alias) => RagEndpoints.Problem(404, "Alias not found", $"no alias '{alias}'; create it with PUT /v1/aliases/{alias}");

    private static ProblemHttpResult TenantNotFound(string tenant) => RagEndpoints.Problem(404, "Tenant not found", $"no tenant '{tenant}' visible to this key");
}
