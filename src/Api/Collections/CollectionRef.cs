using RagCluster.Api.Auth;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Security;

namespace RagCluster.Api.Collections;

/// <summary>
/// The collection a request names, scoped to the caller's tenant: <see cref="Name"/> as the caller knows it,
/// <see cref="Key"/> the grain key ("tenant.name").
/// </summary>
public sealed record CollectionRef(string Name, string Key, string Tenant)
{
    /// <summary>What the caller may read of the collection's documents (from its key or token; none unless set).</summary>
    public ReadAccess Access { get; init; } = ReadAccess.None;

    /// <summary>The documents the caller sees here: <see cref="Access"/> against the collection's access field, read now.</summary>
    public async Task<DocumentAccess> DocumentAccessAsync(IGrainFactory grains) =>
        DocumentAccess.For((await grains.GetGrain<Grains.Interfaces.Collections.ICollectionGrain>(Key).GetSettings()).AccessField, Access);

    /// <summary>The collection of the caller's tenant, or (an operator's request with <c>?tenant=</c>) of the tenant named.</summary>
    public static ValueTask<CollectionRef?> BindAsync(HttpContext http)
    {
        var name = http.GetRouteValue("collection") as string ?? "";
        var asked = http.Request.Query["tenant"].ToString();
        var tenant = asked.Length > 0 ? asked : http.User.Tenant() ?? "";
        return ValueTask.FromResult<CollectionRef?>(new CollectionRef(name, TenantScope.CollectionKey(tenant, name), tenant) { Access = http.User.Access() });
    }

    /// <summary>
    /// Everything under /v1/collections/{collection}: the name is checked, scoped to the caller's tenant, and must exist
    /// (else 404, which is also what another tenant's collection of that name looks like).
    /// </summary>
    public static RouteGroupBuilder Group(IEndpointRouteBuilder app) =>
        app.MapGroup("/v1/collections/{collection}").AddEndpointFilter(RequireExisting).ProducesProblem(StatusCodes.Status404NotFound);

    private static async ValueTask<object?> RequireExisting(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var c = context.Arguments.OfType<CollectionRef>().FirstOrDefault()
                ?? throw new InvalidOperationException("collection endpoints take a CollectionRef");
        var existence = context.HttpContext.RequestServices.GetRequiredService<CollectionExistence>();
        return await c.ProblemFor(context.HttpContext.User, existence, context.HttpContext.RequestAborted) ?? await next(context);
    }

    /// <summary>The collection <paramref name="name"/> of the caller's own tenant (MCP tools take no tenant: a key acts in its own).</summary>
    public static CollectionRef OfCaller(System.Security.Claims.ClaimsPrincipal user, string name)
    {
        var tenant = user.RequiredTenant();
        return new CollectionRef(name, TenantScope.CollectionKey(tenant, name), tenant) { Access = user.Access() };
    }

    /// <summary>Why the caller cannot use this collection (a bad name, or none it may see: 404), or null when it can.</summary>
    public async Task<Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult?> ProblemFor(System.Security.Claims.ClaimsPrincipal user, CollectionExistence existence,
        CancellationToken ct = default)
    {
        if (RagEndpoints.Valid(Name) is { } bad) return bad;
        // Another tenant's collection is an operator's to reach; to anyone else it does not exist.
        var visible = Tenant == user.Tenant() || (Admin.AdminEndpoints.MaySee(user, Tenant) && Grains.Naming.Names.IsName(Tenant));
        if (!visible || !await existence.ExistsAsync(Key, ct))
            return RagEndpoints.Problem(404, "Collection not found", $"no collection '{Name}'; create it with POST /v1/collections");
        return null;
    }
}
