using System.Globalization;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using RagCluster.Api.Auditing;
using RagCluster.Api.Auth;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Mcp;

/// <summary>
/// What stands between an MCP request and a tool, as the HTTP pipeline stands before an endpoint (the key, the rate limit
/// and the reader role were already checked on the /mcp request itself): a key lists only the tools its role may call;
/// a call past its role, with a bad argument, or that fails answers as a tool error in the words of the HTTP problem;
/// a call to a tool above the reader role is written to the audit log, refused or not, and so is an answered read of a
/// collection with an access field.
/// </summary>
public static class ToolGate
{
    public static McpRequestHandler<ListToolsRequestParams, ListToolsResult> ListTools(McpRequestHandler<ListToolsRequestParams, ListToolsResult> next) =>
        async (context, ct) =>
        {
            var result = await next(context, ct);
            var tools = context.Server.ServerOptions.ToolCollection;
            result.Tools = result.Tools.Where(t => tools is not null && tools.TryGetPrimitive(t.Name, out var tool) && Roles.Allows(context.User?.Role() ?? "", RoleOf(tool))).ToList();
            return result;
        };

    public static McpRequestHandler<CallToolRequestParams, CallToolResult> CallTool(McpRequestHandler<CallToolRequestParams, CallToolResult> next) =>
        async (context, ct) =>
        {
            if (context.MatchedPrimitive is not McpServerTool tool) return await next(context, ct); // the SDK answers an unknown tool
            var role = RoleOf(tool);
            var (result, status) = await Run(context, tool, role, next, ct);
            if (role != Roles.Reader || (status is not (404 or >= 500) && await ReadsAccessCollection(context))) await Audit(context, tool, status);
            return result;
        };

    private static async Task<(CallToolResult, int Status)> Run(RequestContext<CallToolRequestParams> context, McpServerTool tool, string role,
        McpRequestHandler<CallToolRequestParams, CallToolResult> next, CancellationToken ct)
    {
        var held = context.User?.Role();
        if (held is null || !Roles.Allows(held, role)) return Error(403, "Forbidden", $"role '{held}' may not do this");
        if (ToolArguments.Problem(tool.ProtocolTool.InputSchema, context.Params?.Arguments) is { } bad) return Error(400, "Invalid arguments", bad);
        try
        {
            var result = await next(context, ct);
            return (result, result.IsError == true ? 500 : role == Roles.Reader ? 200 : 202);
        }
        catch (ToolProblem p)
        {
            return Error(p.Status, p.Title, p.Message);
        }
        catch (Exception e) when (e is not McpProtocolException && !(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            var (status, title, detail) = GrainExceptionHandler.Describe(e);
            if (status == 500)
                context.Services?.GetService<ILoggerFactory>()?.CreateLogger(typeof(ToolGate)).McpToolFailed(e, tool.ProtocolTool.Name);
            return Error(status, title, detail);
        }
    }

    /// <summary>A tool error in the words of the HTTP problem (title, detail), with when to try again where the HTTP API sends Retry-After.</summary>
    private static (CallToolResult, int) Error(int status, string title, string detail)
    {
        var again = status == 503 ? $" (retry after {StorageUnavailableException.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture)} s)" : "";
        return (new CallToolResult { IsError = true, Content = [new TextContentBlock { Text = $"{title}: {detail}{again}" }] }, status);
    }

    private static string RoleOf(McpServerTool tool) => tool.Metadata.OfType<ToolRoleAttribute>().LastOrDefault()?.Role ?? Roles.Reader;

    /// <summary>A read tool's call on a collection with an access field, audited as the HTTP reads of one are.</summary>
    private static async Task<bool> ReadsAccessCollection(RequestContext<CallToolRequestParams> context) =>
        Collection(context) is { } collection && context.User is { } user && context.Services?.GetService<AuditTrail>() is { } audit
        && context.Services.GetService<Collections.CollectionExistence>() is { } existence
        && await Collections.CollectionRef.OfCaller(user, collection).ResolveAsync(user, existence) is ({ } resolved, _)
        && await audit.HasAccessFieldAsync(resolved, user);

    private static string? Collection(RequestContext<CallToolRequestParams> context) =>
        context.Params?.Arguments?.TryGetValue("collection", out var c) == true && c.ValueKind == System.Text.Json.JsonValueKind.String ? c.GetString() : null;

    private static async Task Audit(RequestContext<CallToolRequestParams> context, McpServerTool tool, int status)
    {
        var http = context.Services?.GetService<IHttpContextAccessor>()?.HttpContext;
        var audit = context.Services?.GetService<AuditTrail>();
        if (http is null || audit is null) return;
        var collection = Collection(context);
        await audit.Record(http, $"MCP {tool.ProtocolTool.Name}", collection is null ? http.Request.Path.Value ?? "" : $"{http.Request.Path.Value} collection '{collection}'", status);
    }
}
