using System.Reflection;
using System.Text.Json;
using RagCluster.Api.Auth;
using RagCluster.Api.Limits;

namespace RagCluster.Api.Mcp;

/// <summary>
/// The Model Context Protocol on the API silo (Streamable HTTP, the MCP SDK's): at /mcp, behind the same API keys, rate
/// limits and body limit as the HTTP API, stateless so that any API silo behind a load balancer answers any request.
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

    /// <summary>Any key may connect (the reader role); each tool then asks for its own role (<see cref="ToolGate"/>).</summary>
    public static void MapRagMcp(this IEndpointRouteBuilder app) =>
        app.MapMcp(Path).RequireAuthorization(AuthSetup.Reader).ExcludeFromDescription()
            .WithMetadata(new BodyLimit(RagEndpoints.MaxUploadBytes + 1024 * 1024)); // add_documents takes what a JSON batch may
}
