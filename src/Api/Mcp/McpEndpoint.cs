using System.Reflection;
using System.Text.Json;
using RagCluster.Api.Auth;

namespace RagCluster.Api.Mcp;

/// <summary>
/// The Model Context Protocol on the API silo (Streamable HTTP, the MCP SDK's): at /mcp, behind the same API keys and rate
/// limits as the HTTP API, stateless so that any API silo behind a load balancer answers any request.
/// </summary>
public static class McpEndpoint
{
    public const string Path = "/mcp";

    public static void AddRagMcp(this IServiceCollection services)
    {
        services.AddHttpContextAccessor(); // the audit log records the caller's address
        // The HTTP API's rules for JSON: camelCase names, and numbers are numbers.
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict, TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
        };
        services.AddMcpServer(o =>
            {
                o.ServerInfo = new() { Name = "ragcluster", Title = "RagCluster", Version = typeof(McpEndpoint).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0" };
                o.ServerInstructions = "RagCluster holds document collections. Call list_collections to learn their names, then search for passages or ask for an answer with citations; read_document reads a cited document in full. Keys with the writer role also get add_documents.";
            })
            .WithHttpTransport(o => o.Stateless = true)
            .WithTools<RagTools>(json)
            .WithRequestFilters(f =>
            {
                f.AddListToolsFilter(ToolGate.ListTools);
                f.AddCallToolFilter(ToolGate.CallTool);
            });
    }

    /// <summary>
    /// A POST body the SDK cannot read as JSON (no content type, or a charset .NET does not decode, such as utf-7) is
    /// refused here as the JSON endpoints refuse it, 415: the SDK would throw, and the caller get a 500.
    /// </summary>
    public static async Task RequireReadableJson(HttpContext http, Func<Task> next)
    {
        if (HttpMethods.IsPost(http.Request.Method) && !IsReadableJson(http.Request.ContentType))
        {
            await RagEndpoints.Problem(415, "Unsupported media type", "send application/json in UTF-8").ExecuteAsync(http);
            return;
        }
        await next();
    }

    private static bool IsReadableJson(string? contentType) =>
        Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
        && (media.Charset.Length == 0 || media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || media.Charset.Equals("utf8", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Any key may connect (the reader role); each tool then asks for its own role (<see cref="ToolGate"/>). The body
    /// limit is the JSON endpoints' (1 MiB), not the upload endpoint's: it is checked before the tool, and so the role,
    /// is known, and a reader's key must not be able to make the silo read 50 MiB bodies; bulk loads go through the HTTP API.
    /// </summary>
    public static void MapRagMcp(this IEndpointRouteBuilder app) =>
        app.MapMcp(Path).RequireAuthorization(AuthSetup.Reader).ExcludeFromDescription();
}
