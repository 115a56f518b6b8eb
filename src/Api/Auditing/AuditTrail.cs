using Microsoft.AspNetCore.Authorization;
using RagCluster.Api.Auth;
using RagCluster.Grains.Auditing;
using RagCluster.Grains.Interfaces.Auditing;

namespace RagCluster.Api.Auditing;

/// <summary>
/// Records every write and admin action, refused ones included, with who made it (key, tenant, role) and the status it
/// got: any non-GET request to an endpoint that needs the writer role or above, and any request at all to one that
/// needs the admin role (keys, audit, backup downloads). Operator-only reads (cluster, dashboard, metrics) are polled
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
        await next(http);
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
