using Microsoft.AspNetCore.Authorization;
using RagCluster.Api.Auth;
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
        else if (policy is AuthSetup.Reader && http.GetRouteValue("collection") is not null)
            http.Response.OnCompleted(async () =>
            {
                // Known after the answer, off the request's time: a read of a collection with an access field is recorded.
                // The collection is the one the request resolved (an alias's), as the collection endpoints left it.
                if (http.Response.StatusCode is not (404 or >= 500) && http.Items[typeof(Collections.CollectionRef)] is Collections.CollectionRef c
                    && await HasAccessFieldAsync(c, http.User))
                    await Record(http, endpoint!);
            });
        await next(http);
    }

    /// <summary>
    /// Whether the collection a read resolved to has an access field: its reads are audited too, so who read which
    /// collection of ACL'd documents is on record.
    /// </summary>
    public async Task<bool> HasAccessFieldAsync(Collections.CollectionRef collection, System.Security.Claims.ClaimsPrincipal user)
    {
        try
        {
            return (await grains.GetGrain<Grains.Interfaces.Collections.ICollectionGrain>(collection.Key).GetSettings()).AccessField is not null;
        }
        catch (Exception e)
        {
            // The read was answered; a collection whose settings cannot be read now is recorded rather than left out.
            log.AuditNotRecorded(e, "read", collection.Name, user.KeyId(), 0);
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
            await grains.AuditDay(at).Append(entry);
        }
        catch (Exception e)
        {
            log.AuditNotRecorded(e, entry.Action, entry.Target, entry.KeyId, entry.Status);
        }
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
