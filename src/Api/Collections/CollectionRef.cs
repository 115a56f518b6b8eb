using RagCluster.Api.Auth;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Collections;

/// <summary>
/// The collection a request names, scoped to the caller's tenant: <see cref="Name"/> as the caller knows it,
/// <see cref="Key"/> the grain key ("tenant.name").
/// </summary>
public sealed record CollectionRef(string Name, string Key, string Tenant)
{
    /// <summary>What the caller may read of the collection's documents (from its key or token; none unless set).</summary>
    public ReadAccess Access { get; init; } = ReadAccess.None;

    /// <summary>The door of this collection's reads: each call takes <see cref="Access"/> and answers what the caller may see.</summary>
    public Grains.Interfaces.Collections.ICollectionReadsGrain Reads(IGrainFactory grains) => grains.GetGrain<Grains.Interfaces.Collections.ICollectionReadsGrain>(Key);

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
        var at = context.Arguments.Select((a, i) => (a, i)).FirstOrDefault(x => x.a is CollectionRef);
        if (at.a is not CollectionRef c) throw new InvalidOperationException("collection endpoints take a CollectionRef");
        var existence = context.HttpContext.RequestServices.GetRequiredService<CollectionExistence>();
        var (resolved, problem) = await c.ResolveAsync(context.HttpContext.User, existence, context.HttpContext.RequestAborted);
        if (problem is not null) return problem;
        context.Arguments[at.i] = resolved; // an alias becomes the collection it names, once, for the whole request
        context.HttpContext.Items[typeof(CollectionRef)] = resolved; // and the audit of the read names that collection
        return await next(context);
    }

    /// <summary>The collection <paramref name="name"/> of the caller's own tenant (MCP tools take no tenant: a key acts in its own).</summary>
    public static CollectionRef OfCaller(System.Security.Claims.ClaimsPrincipal user, string name)
    {
        var tenant = user.RequiredTenant();
        return new CollectionRef(name, TenantScope.CollectionKey(tenant, name), tenant) { Access = user.Access() };
    }

    /// <summary>The alias the request named, when it named one (<see cref="Name"/> is then the collection it stands for).</summary>
    public string? Alias { get; init; }

    /// <summary>
    /// The collection the caller means: this one when it exists, else the one this name is an alias of (resolved once:
    /// the whole request then runs on that collection, even if the alias moves meanwhile). Otherwise why not: a bad
    /// name, or none the caller may see (404, also for another tenant's).
    /// </summary>
    public async Task<(CollectionRef? Resolved, Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult? Problem)> ResolveAsync(
        System.Security.Claims.ClaimsPrincipal user, CollectionExistence existence, CancellationToken ct = default)
    {
        if (RagEndpoints.Valid(Name) is { } bad) return (null, bad);
        // Another tenant's collection is an operator's to reach; to anyone else it does not exist.
        var visible = Tenant == user.Tenant() || (Admin.AdminEndpoints.MaySee(user, Tenant) && Grains.Interfaces.Naming.Names.IsName(Tenant));
        if (visible && await existence.ExistsAsync(Key, ct)) return (this, null);
        // A collection's name wins over an alias, so the common case (a collection) costs no alias lookup.
        if (visible && await existence.AliasTargetAsync(Tenant, Name, ct) is { } target)
        {
            var aliased = this with { Name = target, Key = TenantScope.CollectionKey(Tenant, target), Alias = Name };
            if (await existence.ExistsAsync(aliased.Key, ct)) return (aliased, null);
        }
        return (null, RagEndpoints.Problem(404, "Collection not found", $"no collection '{Name}'; create it with POST /v1/collections"));
    }
}
