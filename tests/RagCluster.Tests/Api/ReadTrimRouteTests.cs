using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Issue 83: every read goes through its operation's trim, and the list of reads comes from the server, not from this
/// file. The API's own endpoint list (<c>GET /v1/admin/endpoints</c>: every route it maps) and the MCP server's tool
/// list are matched against the tables below, which say for each how a key of group eng tries to read HR's document
/// through it, or why it reads no document. A route or tool the tables do not name fails the test, so a new read path
/// cannot land unprobed. Each probe shows eng nothing of HR's document, and the same probe by HR's key does show it
/// (where it is a read of documents at all), so a probe that reached nothing would fail too.
/// </summary>
public sealed class ReadTrimRouteTests(TestClusterApi api) : IClassFixture<TestClusterApi>
{
    private const string Secret = "payrollsecret";
    private const string Collection = "v1/collections/trim";

    /// <summary>How a key tries to read HR's document through one door, and whether the answer shows it.</summary>
    /// <param name="Control">Who must be shown it through the same probe: HR's key, a key that sees every document (for
    /// counts, which a reader who sees part of a collection is not given), or nobody (a route that shows no document).</param>
    private sealed record Probe(Func<Keys, Task<(HttpStatusCode Status, string Body)>> Send, Func<HttpStatusCode, string, bool>? Shows = null, Control Control = Control.Hr)
    {
        public bool Showed(HttpStatusCode status, string body) => (Shows ?? ShowsDocument)(status, body);
    }

    private enum Control { Hr, All, None }

    /// <summary>The caller of a probe (eng's or HR's reader key) and HR's own conversation, started before the probes.</summary>
    private sealed record Keys(HttpClient Http, string ConversationId);

    private static bool ShowsDocument(HttpStatusCode status, string body) =>
        body.Contains("hr-0", StringComparison.Ordinal) || body.Contains(Secret, StringComparison.Ordinal);

    /// <summary>For a route a reader is refused (an operator's or an admin's): anything but a 403 shows too much.</summary>
    private static bool NotRefused(HttpStatusCode status, string body) => status != HttpStatusCode.Forbidden || ShowsDocument(status, body);

    private static Func<Keys, Task<(HttpStatusCode, string)>> Get(string path) => async k => await Read(await k.Http.GetAsync(path));

    private static Func<Keys, Task<(HttpStatusCode, string)>> Post(string path, object body) => async k => await Read(await k.Http.PostAsJsonAsync(path, body));

    private static async Task<(HttpStatusCode, string)> Read(HttpResponseMessage response) => (response.StatusCode, await response.Content.ReadAsStringAsync());

    /// <summary>Every route that reads a collection's documents, or what they tell of them, with its probe.</summary>
    private static readonly Dictionary<string, Probe> RouteProbes = new()
    {
        ["GET /v1/collections"] = new(Get("v1/collections"), Control: Control.None), // names only
        ["GET /v1/collections/{collection}"] = new(Get(Collection), (_, body) => CountShown("[" + body + "]"), Control.All),
        ["GET /v1/collections/{collection}/documents"] = new(Get(Collection + "/documents?limit=100")),
        // By a filter every document passes, so the answer lists what the trim lets through.
        ["POST /v1/collections/{collection}/documents/statuses"] = new(Post(Collection + "/documents/statuses",
            new { filter = JsonDocument.Parse("{\"$not\":{\"acl\":{\"$containsAny\":[\"none\"]}}}").RootElement })),
        ["POST /v1/collections/{collection}/documents/contents"] = new(Post(Collection + "/documents/contents", new { ids = new[] { "hr-0" } })),
        ["GET /v1/collections/{collection}/documents/{id}"] = new(Get(Collection + "/documents/hr-0"), (status, _) => status != HttpStatusCode.NotFound),
        ["POST /v1/collections/{collection}/search"] = new(Post(Collection + "/search", new { query = Secret + " salaries", plan = "bm25", topK = 10 })),
        ["POST /v1/collections/{collection}/ask"] = new(Post(Collection + "/ask", new { question = "What are the " + Secret + " salaries?", topK = 10 })),
        ["GET /v1/collections/{collection}/conversations/{id}"] = new(async k => await Read(await k.Http.GetAsync($"{Collection}/conversations/{k.ConversationId}")),
            (status, _) => status != HttpStatusCode.NotFound),
        ["GET /v1/collections/{collection}/plans"] = new(Get(Collection + "/plans"), Control: Control.None),
        ["GET /v1/collections/{collection}/shards"] = new(Get(Collection + "/shards"), NotRefused, Control.None),
        ["GET /v1/collections/{collection}/backup"] = new(Get(Collection + "/backup"), NotRefused, Control.None),
    };

    /// <summary>Every other route, and why it reads no document a key's groups could hide.</summary>
    private static readonly Dictionary<string, string> RoutesWithoutReads = new()
    {
        ["POST /v1/collections"] = "creates a collection",
        ["PUT /v1/collections/{collection}"] = "changes settings; dropping the access field needs an admin (hostile suite)",
        ["DELETE /v1/collections/{collection}"] = "a write",
        ["POST /v1/collections/{collection}/documents"] = "a write, walled by DocumentWrites (WriteWallTests)",
        ["PATCH /v1/collections/{collection}/documents"] = "a write, walled by DocumentWrites (WriteWallTests)",
        ["PATCH /v1/collections/{collection}/documents/{id}"] = "a write, walled by DocumentWrites (WriteWallTests)",
        ["DELETE /v1/collections/{collection}/documents/{id}"] = "a write, walled by DocumentWrites (WriteWallTests)",
        ["DELETE /v1/collections/{collection}/conversations/{id}"] = "a write of the key's own conversation (keyed by key and groups)",
        ["POST /v1/restore/{collection}"] = "an admin's write",
        ["GET /v1/aliases"] = "alias names and targets, no document",
        ["GET /v1/aliases/{alias}"] = "an alias's target, no document",
        ["PUT /v1/aliases/{alias}"] = "a write",
        ["DELETE /v1/aliases/{alias}"] = "a write",
        ["POST /v1/embeddings"] = "embeds the caller's own texts",
        ["GET /v1/embedding"] = "the model's name and dimensions",
        ["GET /v1/cluster"] = "operator only: silos and grains, no document",
        ["GET /v1/cluster/ping/{key}"] = "operator only",
        ["GET /v1/cache"] = "operator only: cache sizes",
        ["POST /v1/dashboard/orleans-session"] = "operator only",
        ["GET /v1/dashboard"] = "operator only: metrics",
        ["GET /v1/dashboard/traces/{traceId}"] = "operator only: a trace's spans",
        ["GET /dashboard/orleans"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/ClusterStats"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/DashboardCounters"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/favicon.ico"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/fonts/{**path}"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/GrainState"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/GrainStats/{*grainName}"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/GrainTypes"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/HistoricalStats/{*path}"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/img/{**path}"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/index.css"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/index.html"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/index.min.js"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/LifecycleStages"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/Reminders"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/Reminders/{page:int}"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/SiloCounters/{*address}"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/SiloMetadata/{*address}"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/SiloProperties/{*address}"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/SiloStats/{*address}"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/TopGrainMethods"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/Trace"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /dashboard/orleans/version"] = "operator only: the Orleans dashboard (grain state included)",
        ["GET /health/live"] = "liveness",
        ["GET /health/ready"] = "readiness",
        ["GET /"] = "the web UI's page, which calls the routes above",
        ["GET /dashboard"] = "the dashboard's page",
        ["GET /ui/{file}"] = "the web UI's static files",
        ["GET /favicon.ico"] = "an icon",
        ["POST /v1/admin/keys"] = "admin: keys",
        ["GET /v1/admin/keys"] = "admin: keys",
        ["GET /v1/admin/keys/{keyId}"] = "admin: keys",
        ["PATCH /v1/admin/keys/{keyId}"] = "admin: keys",
        ["POST /v1/admin/keys/{keyId}/rotate"] = "admin: keys",
        ["DELETE /v1/admin/keys/{keyId}"] = "admin: keys",
        ["GET /v1/admin/audit"] = "admin: the audit trail names routes and ids of the tenant's own calls",
        ["GET /v1/admin/endpoints"] = "this list",
        ["PUT /v1/admin/tenants/{tenant}/limits"] = "operator: a tenant's limits",
        ["GET /v1/admin/tenants/{tenant}/limits"] = "admin: a tenant's limits",
        ["GET /v1/admin/tenants/{tenant}/usage"] = "admin: a tenant's usage in bytes and documents, every group's",
        ["GET /openapi/v1.json"] = "the API's description",
        ["GET /docs/api/{documentName?}"] = "the API's reference page",
        ["GET /docs/api/favicon.svg"] = "the reference page's icon",
        ["GET /docs/api/scalar.aspnetcore.js"] = "the reference page's script",
        ["GET /docs/api/scalar.js"] = "the reference page's script",
        ["GET /metrics"] = "operator: Prometheus metrics, counts and times without ids",
        ["POST /mcp"] = "the MCP tools, each probed below",
    };

    /// <summary>Every MCP tool that reads documents, with its arguments and whether its answer shows HR's document.</summary>
    private static readonly Dictionary<string, (object Arguments, Func<CallToolResult, bool> Shows, Control Control)> ToolProbes = new()
    {
        ["list_collections"] = (new { }, r => r.StructuredContent is { } json && CountShown(json.GetRawText()), Control.All),
        ["search"] = (new { collection = "trim", query = Secret + " salaries", topK = 10 }, r => ShowsDocument(HttpStatusCode.OK, Text(r)), Control.Hr),
        ["ask"] = (new { collection = "trim", question = "What are the " + Secret + " salaries?", topK = 10 }, r => ShowsDocument(HttpStatusCode.OK, Text(r)), Control.Hr),
        ["read_document"] = (new { collection = "trim", id = "hr-0" }, r => Text(r).Contains(Secret, StringComparison.Ordinal), Control.Hr),
    };

    private static readonly Dictionary<string, string> ToolsWithoutReads = new()
    {
        ["add_documents"] = "a write, walled by DocumentWrites (WriteWallTests)",
    };

    [Fact]
    public async Task Every_route_and_tool_that_reads_goes_through_the_trim()
    {
        using var admin = Http(api.AdminKey);
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("v1/collections", new { name = "trim", accessField = "acl" })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await admin.PostAsJsonAsync(Collection + "/documents", new { documents = new object[]
        {
            new { id = "hr-0", text = $"{Secret} salaries of the people team", tags = new { acl = new[] { "hr" } } },
            new { id = "eng-0", text = "deploy guide salaries", tags = new { acl = new[] { "eng" } } },
        } })).StatusCode);
        await Poll.UntilAsync(async () => (await (await admin.PostAsJsonAsync(Collection + "/documents/statuses", new { ids = new[] { "hr-0", "eng-0" } }))
            .Content.ReadFromJsonAsync<JsonElement>()).GetProperty("documents").EnumerateArray().All(d => d.GetProperty("status").GetString() == "indexed"), seconds: 120);
        var client = api.NewClient();
        var engKey = (await client.CreateKeyAsync(new CreateKeyRequest("reader") { Groups = ["eng"] })).Key!;
        var hrKey = (await client.CreateKeyAsync(new CreateKeyRequest("reader") { Groups = ["hr"] })).Key!;
        using var engHttp = Http(engKey);
        using var hrHttp = Http(hrKey);
        var started = await (await hrHttp.PostAsJsonAsync(Collection + "/ask", new { question = "What are the " + Secret + " salaries?", conversationId = "new" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var conversation = started.GetProperty("conversationId").GetString()!;
        var (eng, hr, all) = (new Keys(engHttp, conversation), new Keys(hrHttp, conversation), new Keys(admin, conversation));

        var routes = (await admin.GetFromJsonAsync<JsonElement>("v1/admin/endpoints")).EnumerateArray()
            .SelectMany(e => e.GetProperty("methods").EnumerateArray().Select(m => (Route: $"{m.GetString()} {Path(e)}", Access: e.GetProperty("access").GetString()!)))
            .ToDictionary(r => r.Route, r => r.Access);
        var unclassified = routes.Keys.Where(r => !RouteProbes.ContainsKey(r) && !RoutesWithoutReads.ContainsKey(r)).Order().ToList();
        Assert.True(unclassified.Count == 0, "routes this test does not classify (give each a probe or a reason):\n" + string.Join("\n", unclassified));
        var gone = RouteProbes.Keys.Concat(RoutesWithoutReads.Keys).Where(r => !routes.ContainsKey(r)).ToList();
        Assert.True(gone.Count == 0, "routes the server no longer maps: " + string.Join(", ", gone));
        // A route said to be an operator's must be one: the reason is checked, not taken on trust.
        var open = RoutesWithoutReads.Where(r => r.Value.StartsWith("operator", StringComparison.Ordinal) && !routes[r.Key].StartsWith("operator", StringComparison.Ordinal))
            .Select(r => $"{r.Key} ({routes[r.Key]})").ToList();
        Assert.True(open.Count == 0, "routes said to be an operator's that are not: " + string.Join(", ", open));

        var wrong = new List<string>();
        foreach (var (route, probe) in RouteProbes)
        {
            var (status, body) = await probe.Send(eng);
            if ((int)status >= 500 || probe.Showed(status, body)) wrong.Add($"{route}: eng's key was shown HR's document ({(int)status}): {Clip(body)}");
            if (probe.Control == Control.None) continue;
            (status, body) = await probe.Send(probe.Control == Control.Hr ? hr : all);
            if (!probe.Showed(status, body)) wrong.Add($"{route}: {probe.Control}'s key was not shown HR's document ({(int)status}), so the probe reaches nothing: {Clip(body)}");
        }

        var (engTools, engMcp) = await ToolsAsync(engKey);
        var (_, hrMcp) = await ToolsAsync(hrKey);
        var (_, allMcp) = await ToolsAsync(api.AdminKey);
        await using (engMcp)
        await using (hrMcp)
        await using (allMcp)
        {
            var unnamed = engTools.Where(t => !ToolProbes.ContainsKey(t) && !ToolsWithoutReads.ContainsKey(t)).Order().ToList();
            Assert.True(unnamed.Count == 0, "MCP tools this test does not classify: " + string.Join(", ", unnamed));
            foreach (var (tool, (arguments, shows, control)) in ToolProbes)
            {
                Assert.Contains(tool, engTools);
                if (shows(await CallAsync(engMcp, tool, arguments))) wrong.Add($"MCP {tool}: eng's key was shown HR's document");
                if (control != Control.None && !shows(await CallAsync(control == Control.Hr ? hrMcp : allMcp, tool, arguments)))
                    wrong.Add($"MCP {tool}: {control}'s key was not shown HR's document, so the probe reaches nothing: {Clip(Text(await CallAsync(allMcp, tool, arguments)))}");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    /// <summary>Whether a collection's description (HTTP's documentCount, MCP's documents) shows its count: a reader who sees part of it gets none.</summary>
    private static bool CountShown(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return Objects(doc.RootElement).Any(o => (o.TryGetProperty("name", out var n) || o.TryGetProperty("collection", out n)) && n.ValueKind == JsonValueKind.String && n.GetString() == "trim"
            && (o.TryGetProperty("documentCount", out var count) || o.TryGetProperty("documents", out count)) && count.ValueKind != JsonValueKind.Null);

        static IEnumerable<JsonElement> Objects(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Object => e.EnumerateObject().SelectMany(p => Objects(p.Value)).Prepend(e),
            JsonValueKind.Array => e.EnumerateArray().SelectMany(Objects),
            _ => [],
        };
    }

    private async Task<(HashSet<string> Tools, McpClient Client)> ToolsAsync(string key)
    {
        var mcp = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(api.Url, "mcp"), TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["X-Api-Key"] = key },
        }));
        return ((await mcp.ListToolsAsync()).Select(t => t.Name).ToHashSet(), mcp);
    }

    private static async Task<CallToolResult> CallAsync(McpClient mcp, string tool, object arguments) =>
        await mcp.CallToolAsync(tool, JsonSerializer.Deserialize<Dictionary<string, object?>>(JsonSerializer.Serialize(arguments)));

    private static string Text(CallToolResult result) =>
        string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text)) + result.StructuredContent?.GetRawText();

    /// <summary>A route as its table names it: a group's own route has no trailing slash.</summary>
    private static string Path(JsonElement endpoint) => endpoint.GetProperty("route").GetString()! is var r && r.Length > 1 ? r.TrimEnd('/') : "/";

    private static string Clip(string body) => body.Length > 300 ? body[..300] + "…" : body;

    private HttpClient Http(string key)
    {
        var http = new HttpClient { BaseAddress = api.Url };
        http.DefaultRequestHeaders.Add("X-Api-Key", key);
        return http;
    }
}
