using Microsoft.AspNetCore.Authorization;
using RagCluster.Api.Auth;
using RagCluster.Grains.Auditing;
using RagCluster.Grains.Interfaces.Auditing;

namespace RagCluster.Api.Auditing;

/// <summary>
/// Records every write and admin action, refused ones included, with who made it (key, tenant, role) and the status it
/// got: any non-GET request to an endpoint that needs the writer role or above, and any request at all to one that
/// needs the admin role (keys, audit, backup downloads); and every answered read of a collection with an access field
/// (search, ask, document reads, listings), naming the key and the collection. Operator-only reads (cluster, dashboard, metrics) are polled
/// and are not recorded. Appended once the response has completed, so the
/// status is the final one (problems written by the exception handler included); a failing audit store is logged,
/// it does not undo or fail the write.
/// </summary>
public sealed class AuditTrail(IGrainFactory grains, ILogger<AuditTrail> log)
{
    public async Task Middleware(HttpContext http, RequestDelegate next)
    {
        var endpoint = http.GetEndpoint() as RouteEndpoint;
        var policy = endpoint?.Metadata.GetOrderedMetadata<IAuthorizeData>().LastOrDefault(a => a.Policy is not null)?.Policy;
        var read = HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method);
        var audited = policy is AuthSetup.Admin || (!read && policy is AuthSetup.Writer or AuthSetup.Operator);
        if (audited) http.Response.OnCompleted(() => Record(http, endpoint!));
        else if (policy is AuthSetup.Reader && http.GetRouteValue("collection") is string collection)
            http.Response.OnCompleted(async () =>
            {
                // Known after the answer, off the request's time: a read of a collection with an access field is recorded.
                if (http.Response.StatusCode is not (404 or >= 500) && await HasAccessFieldAsync(http.User, http.Request.Query["tenant"].ToString(), collection))
                    await Record(http, endpoint!);
            });
        await next(http);
    }

    /// <summary>
    /// Whether the caller's collection <paramref name="collection"/> (an operator's: of <paramref name="tenant"/>, when
    /// named) has an access field: its reads are audited too, so who read which collection of ACL'd documents is on record.
    /// </summary>
    public async Task<bool> HasAccessFieldAsync(System.Security.Claims.ClaimsPrincipal user, string? tenant, string collection)
    {
        tenant = string.IsNullOrEmpty(tenant) ? user.Tenant() : tenant;
        if (tenant is null || !Grains.Naming.Names.IsName(tenant) || !Grains.Naming.Names.IsName(collection)) return false;
        try
        {
            var grain = grains.GetGrain<Grains.Interfaces.Collections.ICollectionGrain>(Grains.Security.TenantScope.CollectionKey(tenant, collection));
            // The request may have named an alias: the collection it stands for is the one read.
            if (!await grain.Exists() && await grains.GetGrain<Grains.Interfaces.Aliases.IAliasesGrain>(tenant).Resolve(collection) is { } target)
                grain = grains.GetGrain<Grains.Interfaces.Collections.ICollectionGrain>(Grains.Security.TenantScope.CollectionKey(tenant, target));
            return (await grain.GetSettings()).AccessField is not null;
        }
        catch (Exception e)
        {
            // The read was answered; a collection whose settings cannot be read now is recorded rather than left out.
            log.AuditNotRecorded(e, "read", collection, user.KeyId(), 0);
            return true;
        }
    }

    private Task Record(HttpContext http, RouteEndpoint endpoint) =>
        Record(http, $"{http.Request.Method} {endpoint.RoutePattern.RawText}", http.Request.Path.Value + http.Request.QueryString.Value, http.Response.StatusCode);

    /// <summary>One action by the caller of <paramref name="http"/>, with the status it got (also what an MCP tool call records).</summary>
    public async Task Record(HttpContext http, string action, string target, int status)
    {
        var at = DateTimeOffset.UtcNow;
        var entry = new AuditEntry(at, http.User.KeyId(), http.User.Tenant(), http.User.Role(), action, Truncate(target, 300), status,
            http.Connection.RemoteIpAddress?.ToString());
        try
        {
            await grains.GetGrain<IAuditGrain>(AuditGrain.KeyFor(at)).Append(entry);
        }
        catch (Exception e)
        {
            log.AuditNotRecorded(e, entry.Action, entry.Target, entry.KeyId, entry.Status);
        }
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
