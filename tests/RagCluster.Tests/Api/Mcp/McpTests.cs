using System.Net;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// The MCP endpoint (/mcp) through the MCP SDK's own client, as an agent or editor would connect: every tool, the roles
/// (a reader neither lists nor calls add_documents), tenants (one tenant's key never sees another's collections), bad
/// arguments, and the audit log; each refusal in the words of the HTTP API's problem for the same request.
/// </summary>
public sealed class McpTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    private static readonly string[] ReaderTools = ["ask", "list_collections", "read_document", "search"];

    private async Task<(string KeyId, string Key)> NewKey(string tenant, string role)
    {
        var k = await api.Client.CreateKeyAsync(new(role) { Tenant = tenant, Description = $"mcp {role} of {tenant}" });
        return (k.KeyId, k.Key!);
    }

    private async Task<McpClient> Connect(string key)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(api.Http.BaseAddress!, "mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["X-Api-Key"] = key },
        });
        return await McpClient.CreateAsync(transport);
    }

    private static async Task<CallToolResult> Call(McpClient client, string tool, object arguments) =>
        await client.CallToolAsync(tool, JsonSerializer.Deserialize<Dictionary<string, object?>>(JsonSerializer.Serialize(arguments)));

    private static JsonElement Value(CallToolResult result)
    {
        Assert.True(result.IsError != true, "tool error: " + Text(result));
        return result.StructuredContent ?? throw new Xunit.Sdk.XunitException("no structured content");
    }

    private static string Text(CallToolResult result) => string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text));

    private static void RefusedWith(CallToolResult result, string expected)
    {
        Assert.True(result.IsError == true, "expected a tool error, got: " + Text(result));
        Assert.Equal(expected, Text(result));
    }

    /// <summary>The problem the HTTP API answers a request with, as "title: detail" (what the tool error must say).</summary>
    private async Task<string> HttpProblem(string key, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent(body) };
        request.Headers.Add("X-Api-Key", key);
        using var response = await api.Http.SendAsync(request);
        Assert.True((int)response.StatusCode >= 400, $"{path}: expected a problem, got {(int)response.StatusCode}");
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return $"{problem.GetProperty("title").GetString()}: {problem.GetProperty("detail").GetString()}";
    }

    private static StringContent JsonContent(object body) => new(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_writer_adds_documents_and_a_reader_lists_searches_asks_and_reads_them()
    {
        var (_, writerKey) = await NewKey("mcp-flow", "writer");
        var (_, readerKey) = await NewKey("mcp-flow", "reader");
        await new RagClusterClient(api.Http.BaseAddress!, writerKey).EnsureCollectionAsync(new("kb"));
        await using var writer = await Connect(writerKey);
        await using var reader = await Connect(readerKey);

        Assert.Equal(["add_documents", .. ReaderTools], (await writer.ListToolsAsync()).Select(t => t.Name).Order());
        Assert.Equal(ReaderTools, (await reader.ListToolsAsync()).Select(t => t.Name).Order());

        var added = Value(await Call(writer, "add_documents", new
        {
            collection = "kb",
            documents = new object[]
            {
                new { id = "tea", text = "Green tea is brewed at about 80 degrees Celsius, cooler than black tea.", tags = new { kind = "drink" } },
                new { id = "ships", text = "Container ships carry most of the world's trade across the oceans.", tags = new { kind = "transport" } },
                new { id = "bad id!", text = "refused alone" },
            },
        }));
        Assert.Equal((2, 1), (added.GetProperty("accepted").GetInt32(), added.GetProperty("rejected").GetInt32()));
        var rejected = added.GetProperty("documents")[2];
        Assert.Equal(("rejected", "Invalid document id"), (rejected.GetProperty("status").GetString(), rejected.GetProperty("error").GetProperty("title").GetString()));

        // Accepted at once, indexed in the background: read_document says when.
        await Poll.UntilAsync(async () =>
        {
            var docs = await Task.WhenAll(new[] { "tea", "ships" }.Select(async id => Value(await Call(reader, "read_document", new { collection = "kb", id }))));
            return docs.All(d => d.GetProperty("status").GetString() == "indexed");
        });
        var tea = Value(await Call(reader, "read_document", new { collection = "kb", id = "tea" }));
        Assert.Equal("drink", tea.GetProperty("tags").GetProperty("kind").GetString());
        Assert.Contains("80 degrees Celsius", tea.GetProperty("chunks")[0].GetProperty("text").GetString());

        var listed = Value(await Call(reader, "list_collections", new { })).GetProperty("collections").EnumerateArray().Single();
        Assert.Equal(("kb", 2), (listed.GetProperty("name").GetString(), listed.GetProperty("documents").GetInt32()));
        Assert.False(listed.TryGetProperty("ownVectorDimensions", out _)); // a collection that takes text

        var found = Value(await Call(reader, "search", new { collection = "kb", query = "green tea brewing temperature", topK = 2, plan = "bm25" }));
        Assert.Equal("bm25", found.GetProperty("plan").GetString());
        Assert.Equal("tea", found.GetProperty("hits")[0].GetProperty("documentId").GetString());
        var filtered = Value(await Call(reader, "search", new { collection = "kb", query = "tea ships", plan = "bm25", filter = new { kind = "transport" } }));
        Assert.All(filtered.GetProperty("hits").EnumerateArray(), h => Assert.Equal("ships", h.GetProperty("documentId").GetString()));

        var answer = Value(await Call(reader, "ask", new { collection = "kb", question = "What temperature is green tea brewed at?" }));
        Assert.Contains("80 degrees", answer.GetProperty("answer").GetString());
        Assert.Equal("tea", answer.GetProperty("citations")[0].GetProperty("documentId").GetString());

        // A conversation over MCP: the follow-up is searched with the question before it.
        var started = Value(await Call(reader, "ask", new { collection = "kb", question = "What temperature is green tea brewed at?", conversationId = "new" }));
        var conversation = started.GetProperty("conversationId").GetString();
        var followUp = Value(await Call(reader, "ask", new { collection = "kb", question = "And for how long?", conversationId = conversation }));
        Assert.Equal(conversation, followUp.GetProperty("conversationId").GetString());
        Assert.Equal("What temperature is green tea brewed at? And for how long?", followUp.GetProperty("searchedAs")[1].GetString());
    }

    [Fact]
    public async Task A_reader_is_refused_add_documents_as_the_HTTP_API_refuses_it_and_both_calls_are_audited()
    {
        var (writerId, writerKey) = await NewKey("mcp-roles", "writer");
        var (readerId, readerKey) = await NewKey("mcp-roles", "reader");
        await new RagClusterClient(api.Http.BaseAddress!, writerKey).EnsureCollectionAsync(new("kb"));
        await using var reader = await Connect(readerKey);
        await using var writer = await Connect(writerKey);
        var document = new { collection = "kb", documents = new[] { new { id = "memo", text = "The quarterly review moves to Thursday." } } };

        var http = await HttpProblem(readerKey, "v1/collections/kb/documents", new { id = "memo", text = "The quarterly review moves to Thursday." });
        Assert.Equal("Forbidden: role 'reader' may not do this", http);
        RefusedWith(await Call(reader, "add_documents", document), http);
        RefusedWith(await Call(reader, "read_document", new { collection = "kb", id = "memo" }), "Document not found: no document 'memo' in collection 'kb'");

        Assert.Equal(1, Value(await Call(writer, "add_documents", document)).GetProperty("accepted").GetInt32());

        var audit = await api.Client.ReadAuditAsync(tenant: "mcp-roles");
        Assert.Contains(audit, e => e.Action == "MCP add_documents" && e.KeyId == readerId && e.Status == 403 && e.Target == "/mcp collection 'kb'");
        Assert.Contains(audit, e => e.Action == "MCP add_documents" && e.KeyId == writerId && e.Status == 202);
        Assert.DoesNotContain(audit, e => e.Action.StartsWith("MCP ") && e.Action != "MCP add_documents"); // reads are not audited, as over HTTP
    }

    [Fact]
    public async Task A_key_of_one_tenant_never_sees_another_tenants_collections()
    {
        var (_, ownerKey) = await NewKey("mcp-acme", "writer");
        var (_, otherKey) = await NewKey("mcp-globex", "admin");
        var owner = new RagClusterClient(api.Http.BaseAddress!, ownerKey);
        await owner.EnsureCollectionAsync(new("secrets"));
        await owner.IngestAsync("secrets", new DocumentInput("plan") { Text = "The merger closes in March." });
        await using var other = await Connect(otherKey);

        Assert.Empty(Value(await Call(other, "list_collections", new { })).GetProperty("collections").EnumerateArray());
        var http = await HttpProblem(otherKey, "v1/collections/secrets/search", new { query = "merger" });
        Assert.Equal("Collection not found: no collection 'secrets'; create it with POST /v1/collections", http);
        RefusedWith(await Call(other, "search", new { collection = "secrets", query = "merger" }), http);
        RefusedWith(await Call(other, "ask", new { collection = "secrets", question = "When does the merger close?" }), http);
        RefusedWith(await Call(other, "read_document", new { collection = "secrets", id = "plan" }), http);
        RefusedWith(await Call(other, "add_documents", new { collection = "secrets", documents = new[] { new { id = "x", text = "planted" } } }), http);
        // A name that reaches into another tenant's keys is not a collection name at all.
        RefusedWith(await Call(other, "search", new { collection = "mcp-acme.secrets", query = "merger" }),
            await HttpProblem(otherKey, "v1/collections/mcp-acme.secrets/search", new { query = "merger" }));
    }

    [Theory]
    [InlineData("""{"collection":"kb","query":"tea","topK":"ten"}""", "Invalid arguments: topK must be a whole number")]
    [InlineData("""{"collection":"kb","topK":3}""", "Invalid arguments: query is required")]
    [InlineData("""{"collection":"kb","query":"tea","filter":{"kind":{"$like":"t%"}}}""", "http")]
    [InlineData("""{"collection":"kb","query":"tea","filter":"kind=7"}""", "http")]
    [InlineData("""{"collection":"kb","query":"tea","topK":500}""", "http")]
    [InlineData("""{"collection":"kb","query":"tea","plan":"magic"}""", "http")]
    [InlineData("""{"collection":"kb","query":""}""", "http")]
    public async Task A_bad_argument_gets_a_tool_error_that_names_it(string arguments, string expected)
    {
        var (_, key) = await NewKey("mcp-args", "writer");
        await new RagClusterClient(api.Http.BaseAddress!, key).EnsureCollectionAsync(new("kb"));
        await using var client = await Connect(key);
        var args = JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments)!;
        // Where HTTP would take the same values, the tool error is the HTTP problem's title and detail.
        if (expected == "http") expected = await HttpProblem(key, "v1/collections/kb/search", args.Where(a => a.Key != "collection").ToDictionary());
        RefusedWith(await client.CallToolAsync("search", args), expected);
    }

    [Fact]
    public async Task A_request_past_the_JSON_body_limit_is_refused_before_any_tool_runs()
    {
        var (_, key) = await NewKey("mcp-big", "writer");
        await new RagClusterClient(api.Http.BaseAddress!, key).EnsureCollectionAsync(new("kb"));
        var huge = new { jsonrpc = "2.0", id = 1, method = "tools/call", @params = new { name = "add_documents",
            arguments = new { collection = "kb", documents = new[] { new { id = "big", text = new string('x', 1100 * 1024) } } } } };
        using var request = new HttpRequestMessage(HttpMethod.Post, "mcp") { Content = JsonContent(huge) };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("X-Api-Key", key);
        using var response = await api.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await using var client = await Connect(key);
        RefusedWith(await Call(client, "read_document", new { collection = "kb", id = "big" }), "Document not found: no document 'big' in collection 'kb'");
    }

    [Theory]
    [InlineData("application/json; charset=utf-7")]
    [InlineData("application/json; charset=\"")]
    [InlineData(null)]
    public async Task A_body_the_server_cannot_read_as_JSON_is_a_415_problem_not_a_500(string? contentType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "mcp")
            { Content = new ByteArrayContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}"""u8.ToArray()) };
        if (contentType is not null) request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        using var response = await api.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Without_a_key_the_endpoint_answers_401_and_the_client_cannot_connect()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "mcp") { Content = JsonContent(new { jsonrpc = "2.0", id = 1, method = "tools/list" }) };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        using var anonymous = new HttpClient { BaseAddress = api.Http.BaseAddress };
        using var response = await anonymous.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await Assert.ThrowsAnyAsync<Exception>(() => Connect("rck_nobody.wrong"));
    }
}
