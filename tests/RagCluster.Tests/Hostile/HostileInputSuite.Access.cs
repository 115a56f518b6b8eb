using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Hostile;

// Issue 72, item 1: document-level access. A key that lacks a document's group tries every read route, every MCP tool
// and every cache tier (an answer another key's search has just cached, in memory and in the store after a restart);
// not one id, title, text or count of a hidden document may come back, and what it may see fills its topK.
public sealed partial class HostileInputSuite
{
    // What only hidden documents hold: their ids' prefixes and their words.
    private static readonly string[] Hidden = ["hr-", "orphan-", "empty-", "payrollsecret", "salaries"];
    private static readonly string[] Plans = ["auto", "bm25", "vector", "hybrid"];
    private const string Query = "payroll salaries";

    private async Task DocumentAccessAsync(HttpClient op)
    {
        const string k = "access";
        // Bad input: a 400 naming the field, nothing half-applied.
        await Expect(k, "an access field declared integer", () => op.PostAsJsonAsync("v1/collections", new { name = "acl", accessField = "n", fields = new { n = "integer" } }), HttpStatusCode.BadRequest);
        await Expect(k, "an access field no tag can be", () => op.PostAsJsonAsync("v1/collections", new { name = "acl", accessField = "$x" }), HttpStatusCode.BadRequest);
        await Expect(k, "an empty group name", () => op.PostAsJsonAsync("v1/admin/keys", new { role = "reader", groups = new[] { "" } }), HttpStatusCode.BadRequest);
        await Expect(k, "a 129-character group", () => op.PostAsJsonAsync("v1/admin/keys", new { role = "reader", groups = new[] { new string('g', 129) } }), HttpStatusCode.BadRequest);
        await Expect(k, "groups that are not an array", () => op.PostAsJsonAsync("v1/admin/keys", new { role = "reader", groups = "hr" }), HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.NotFound, (await op.GetAsync("v1/collections/acl")).StatusCode);

        Assert.Equal(HttpStatusCode.Created, (await op.PostAsJsonAsync("v1/collections", new { name = "acl", shardCount = 2, accessField = "acl" })).StatusCode);
        var (_, hr) = await KeyAsync(op, "reader", "hr");
        var (engId, eng) = await KeyAsync(op, "reader", "eng");
        var (_, engWriter) = await KeyAsync(op, "writer", "eng");
        var (_, nobody) = await KeyAsync(op, "reader");
        await Expect(k, "an access field that is a string", () => op.PostAsJsonAsync("v1/collections/acl/documents", new { id = "str", text = "x", tags = new { acl = "hr" } }), HttpStatusCode.BadRequest);
        await Expect(k, "a writer drops the access field", () => engWriter.PutAsJsonAsync("v1/collections/acl", new { accessField = "" }), HttpStatusCode.Forbidden);

        // HR's payroll (many "payroll"s: it outranks the wiki for the query), the wiki, one for both, one with no field, one with none in it.
        var documents = Enumerable.Range(0, 10).Select(i => (object)new { id = $"hr-{i}", text = $"payroll payroll payroll salaries payrollsecret{i} for the people team", tags = new { acl = new[] { "hr" } } })
            .Concat(Enumerable.Range(0, 10).Select(i => (object)new { id = $"eng-{i}", text = $"the payroll service deploy guide {i} for engineers", tags = new { acl = new[] { "eng" } } }))
            .Append(new { id = "both-0", text = "payroll calendar shared by people and engineering", tags = new { acl = new[] { "hr", "eng" } } })
            .Append(new { id = "orphan-0", text = "payroll payroll salaries note payrollsecretorphan" })
            .Append(new { id = "empty-0", text = "payroll payroll salaries payrollsecretempty", tags = new { acl = Array.Empty<string>() } });
        Assert.Equal(HttpStatusCode.Accepted, (await op.PostAsJsonAsync("v1/collections/acl/documents", new { documents })).StatusCode);
        await Poll.UntilAsync(async () => (await op.GetFromJsonAsync<JsonElement>("v1/collections/acl")) is var c
            && c.GetProperty("documentCount").GetInt32() == 23 && c.GetProperty("unsettledCount").GetInt32() == 0, seconds: 120);

        // Another key's answers cached first (L1 on this silo, L2 in the cache grains): HR's, and the operator's, which sees all.
        foreach (var plan in Plans)
            for (var i = 0; i < 2; i++)
            {
                await hr.PostAsJsonAsync("v1/collections/acl/search", new { query = Query, plan, topK = 5 });
                await op.PostAsJsonAsync("v1/collections/acl/search", new { query = Query, plan, topK = 5 });
            }
        var hrCached = await Search(hr, new { query = Query, plan = "bm25", topK = 5 });
        Assert.True(hrCached.GetProperty("cached").GetBoolean(), "HR's repeated search was not cached: the cache tiers are not exercised");
        Assert.Contains(Ids(hrCached), id => id.StartsWith("hr-", StringComparison.Ordinal)); // the control: HR sees HR's

        // The wiki's reader asks the same: never another key's entry, topK filled with what it may see, then its own entry cached.
        foreach (var plan in Plans)
        {
            var first = await Probe(k, $"search {plan} after HR's cached it", () => eng.PostAsJsonAsync("v1/collections/acl/search", new { query = Query, plan, topK = 5 }), HttpStatusCode.OK);
            var answer = JsonDocument.Parse(first).RootElement;
            if (answer.GetProperty("cached").GetBoolean()) _wrong.Add($"{k}: eng's first {plan} search came from a cache");
            if (Ids(answer).Length != 5) _wrong.Add($"{k}: eng's {plan} search held {Ids(answer).Length} hits, not 5 (topK not filled with visible hits)");
        }
        Assert.True((await Search(eng, new { query = Query, plan = "bm25", topK = 5 })).GetProperty("cached").GetBoolean());

        await ReadRoutesAsync(k, eng, engWriter, op);
        await McpToolsAsync(k, eng);
        foreach (var (what, send) in new (string, Func<Task<HttpResponseMessage>>)[]
        {
            ("search", () => nobody.PostAsJsonAsync("v1/collections/acl/search", new { query = Query, topK = 20 })),
            ("listing", () => nobody.GetAsync("v1/collections/acl/documents")),
            ("ask", () => nobody.PostAsJsonAsync("v1/collections/acl/ask", new { question = Query })),
        })
        {
            var body = await Probe(k, "no groups: " + what, send, HttpStatusCode.OK);
            if (body.Contains("eng-", StringComparison.Ordinal) || body.Contains("both-", StringComparison.Ordinal)) _wrong.Add($"{k}: a key of no group saw a document: {what}");
        }

        // L3: a graceful restart stores every cache partition; HR's query that the wiki's reader never asked is served
        // to HR from storage (the control), and computed afresh for the wiki's reader.
        await Search(hr, new { query = "payroll salaries people", plan = "bm25", topK = 5 });
        _peakBeforeRestart = _api!.PeakResidentBytes;
        await _api.TerminateAsync();
        await _api.DisposeAsync();
        _api = await StartApiAsync();
        var afresh = await Probe(k, "search after a restart, HR's answer in L3", () => eng.PostAsJsonAsync("v1/collections/acl/search", new { query = "payroll salaries people", plan = "bm25", topK = 5 }), HttpStatusCode.OK);
        Assert.False(JsonDocument.Parse(afresh).RootElement.GetProperty("cached").GetBoolean());
        Assert.Equal("L3", (await Search(hr, new { query = "payroll salaries people", plan = "bm25", topK = 5 })).GetProperty("cacheTier").GetString());

        // A document's groups change with a tags PATCH, seen by the next read with readAfter; a key's groups with PATCH.
        var patched = await (await op.PatchAsJsonAsync("v1/collections/acl/documents/hr-1", new { tags = new { acl = new[] { "hr", "eng" } } })).Content.ReadFromJsonAsync<JsonElement>();
        var readAfter = new Dictionary<string, long> { ["hr-1"] = patched.GetProperty("version").GetInt64() };
        Assert.Contains("hr-1", Ids(await Search(eng, new { query = "payrollsecret1", plan = "bm25", topK = 5, readAfter })));
        Assert.Equal(HttpStatusCode.OK, (await op.PatchAsJsonAsync($"v1/admin/keys/{engId}", new { groups = new[] { "eng", "hr" } })).StatusCode);
        await Poll.UntilAsync(async () => (await eng.GetAsync("v1/collections/acl/documents/hr-0")).StatusCode == HttpStatusCode.OK);

        // The audit log names the key and the collection of each read.
        var audit = await op.GetFromJsonAsync<JsonElement>($"v1/admin/audit?keyId={engId}&limit=1000");
        var targets = audit.EnumerateArray().Select(e => e.GetProperty("action").GetString() + " " + e.GetProperty("target").GetString()).ToList();
        foreach (var route in new[] { "/v1/collections/acl/search", "/v1/collections/acl/ask", "/v1/collections/acl/documents/statuses", "collection 'acl'" })
            if (!targets.Any(t => t.Contains(route, StringComparison.Ordinal))) _wrong.Add($"{k}: no audit entry of eng's key for {route}");
        output.WriteLine($"access: the wiki key's reads audited: {targets.Count}");
    }

    // Every read route, by a key of the wiki's group, for HR's documents: found nowhere, and answered as if they did not exist.
    private async Task ReadRoutesAsync(string k, HttpClient eng, HttpClient engWriter, HttpClient op)
    {
        var collection = JsonDocument.Parse(await Probe(k, "collection", () => eng.GetAsync("v1/collections/acl"), HttpStatusCode.OK)).RootElement;
        if (collection.GetProperty("documentCount").ValueKind != JsonValueKind.Null) _wrong.Add($"{k}: the collection's document count was shown");
        await Probe(k, "listing", () => eng.GetAsync("v1/collections/acl/documents?limit=100"), HttpStatusCode.OK);
        await Probe(k, "listing filtered on hr", () => eng.GetAsync("v1/collections/acl/documents?filter=" + Uri.EscapeDataString("{\"acl\":{\"$containsAny\":[\"hr\"]}}")), HttpStatusCode.OK);
        await Probe(k, "statuses by filter", () => eng.PostAsJsonAsync("v1/collections/acl/documents/statuses", new { filter = JsonDocument.Parse("{\"$not\":{\"acl\":{\"$containsAny\":[\"eng\"]}}}").RootElement }), HttpStatusCode.OK);
        var statuses = JsonDocument.Parse(await Probe(k, "statuses by id", () => eng.PostAsJsonAsync("v1/collections/acl/documents/statuses", new { ids = new[] { "hr-0", "orphan-0", "empty-0", "nope", "eng-0" } }), HttpStatusCode.OK, scan: false))
            .RootElement.GetProperty("documents").EnumerateArray().ToList();
        var none = statuses[3].GetRawText().Replace("nope", "{id}");
        foreach (var s in statuses.Take(3))
            if (s.GetRawText().Replace(s.GetProperty("documentId").GetString()!, "{id}") != none) _wrong.Add($"{k}: a hidden document's status differs from a missing one's: {s.GetRawText()}");
        if (statuses[4].GetProperty("status").GetString() != "indexed") _wrong.Add($"{k}: the control eng-0 read as {statuses[4].GetRawText()}");
        var contents = await Probe(k, "contents", () => eng.PostAsJsonAsync("v1/collections/acl/documents/contents", new { ids = new[] { "hr-0", "orphan-0", "empty-0", "eng-0" } }), HttpStatusCode.OK);
        if (!contents.Contains("eng-0", StringComparison.Ordinal)) _wrong.Add($"{k}: the control eng-0 was not read back");
        var hidden = await Probe(k, "read a hidden document", () => eng.GetAsync("v1/collections/acl/documents/hr-0"), HttpStatusCode.NotFound, scan: false);
        var missing = await Probe(k, "read a missing document", () => eng.GetAsync("v1/collections/acl/documents/nope"), HttpStatusCode.NotFound, scan: false);
        if (Problem(hidden, "hr-0") != Problem(missing, "nope")) _wrong.Add($"{k}: a hidden document's 404 differs from a missing one's");
        foreach (var filter in new[] { "{\"$or\":[{\"acl\":{\"$exists\":false}},{\"acl\":{\"$containsAny\":[\"hr\"]}}]}", "{\"$not\":{\"acl\":{\"$containsAny\":[\"eng\"]}}}", "{\"acl\":{\"$containsAll\":[]}}" })
            await Probe(k, "search widened by " + filter, () => eng.PostAsJsonAsync("v1/collections/acl/search", new { query = Query, topK = 100, filter = JsonDocument.Parse(filter).RootElement }), HttpStatusCode.OK, HttpStatusCode.BadRequest);
        await Probe(k, "search grouped by document", () => eng.PostAsJsonAsync("v1/collections/acl/search", new { query = Query, topK = 100, groupBy = "document", groupSize = 10 }), HttpStatusCode.OK);
        await Probe(k, "search a later page", () => eng.PostAsJsonAsync("v1/collections/acl/search", new { query = Query, topK = 50, offset = 5, plan = "vector" }), HttpStatusCode.OK);
        var late = await Probe(k, "readAfter a hidden document", () => eng.PostAsJsonAsync("v1/collections/acl/search", new { query = Query, readAfter = new Dictionary<string, long> { ["hr-0"] = 1 } }), HttpStatusCode.ServiceUnavailable, scan: false);
        var unknown = await Probe(k, "readAfter a missing document", () => eng.PostAsJsonAsync("v1/collections/acl/search", new { query = Query, readAfter = new Dictionary<string, long> { ["nope"] = 1 } }), HttpStatusCode.ServiceUnavailable, scan: false);
        if (Problem(late, "hr-0") != Problem(unknown, "nope")) _wrong.Add($"{k}: readAfter of a hidden document answered unlike a missing one's: {late}");
        await Probe(k, "ask", () => eng.PostAsJsonAsync("v1/collections/acl/ask", new { question = "What are the salaries in payroll?", topK = 20 }), HttpStatusCode.OK);
        await Probe(k, "ask, streamed", () => eng.PostAsJsonAsync("v1/collections/acl/ask", new { question = "What are the salaries in payroll?", topK = 20, stream = true }), HttpStatusCode.OK);
        await Probe(k, "shard statistics", () => eng.GetAsync("v1/collections/acl/shards"), HttpStatusCode.Forbidden);
        await Probe(k, "plan statistics", () => eng.GetAsync("v1/collections/acl/plans"), HttpStatusCode.OK);
        await Probe(k, "backup", () => eng.GetAsync("v1/collections/acl/backup"), HttpStatusCode.Forbidden);
        // Writes that name a hidden document find none, so they can neither re-tag it into view nor remove it, nor replace it.
        await Probe(k, "re-tag a hidden document", () => engWriter.PatchAsJsonAsync("v1/collections/acl/documents/hr-0", new { tags = new { acl = new[] { "eng" } } }), HttpStatusCode.NotFound, scan: false);
        var batch = await Probe(k, "re-tag hidden documents in a batch", () => engWriter.PatchAsJsonAsync("v1/collections/acl/documents", new { documents = new[] { new { id = "hr-2", tags = new { acl = new[] { "eng" } } } } }), HttpStatusCode.Accepted, scan: false);
        if (!batch.Contains("\"status\":404", StringComparison.Ordinal)) _wrong.Add($"{k}: a batch re-tag of a hidden document answered {batch}");
        await Probe(k, "delete a hidden document", () => engWriter.DeleteAsync("v1/collections/acl/documents/hr-3"), HttpStatusCode.NotFound, scan: false);
        await Probe(k, "replace a hidden document", () => engWriter.PostAsJsonAsync("v1/collections/acl/documents", new { id = "hr-4", text = "eng's words", tags = new { acl = new[] { "eng" } } }), HttpStatusCode.Conflict, scan: false);
        var kept = await op.PostAsJsonAsync("v1/collections/acl/documents/contents", new { ids = new[] { "hr-0", "hr-2", "hr-3", "hr-4" } });
        var held = (await kept.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("documents").EnumerateArray().ToList();
        if (held.Count != 4 || held.Any(d => d.GetProperty("tags").GetProperty("acl").GetRawText() != "[\"hr\"]")) _wrong.Add($"{k}: a refused write changed a hidden document");
    }

    private async Task McpToolsAsync(string k, HttpClient eng)
    {
        await using var mcp = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(_url + "/mcp"), TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["X-Api-Key"] = eng.DefaultRequestHeaders.GetValues("X-Api-Key").Single() },
        }));
        foreach (var (tool, arguments, refused) in new (string, object, bool)[]
        {
            ("list_collections", new { }, false),
            ("search", new { collection = "acl", query = Query, topK = 20 }, false),
            ("ask", new { collection = "acl", question = "What are the salaries in payroll?", topK = 20 }, false),
            ("read_document", new { collection = "acl", id = "hr-0" }, true),
            ("read_document", new { collection = "acl", id = "orphan-0" }, true),
        })
        {
            var result = await mcp.CallToolAsync(tool, JsonSerializer.Deserialize<Dictionary<string, object?>>(JsonSerializer.Serialize(arguments)));
            var text = string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text)) + result.StructuredContent?.GetRawText();
            _tally[k] = (_tally.GetValueOrDefault(k).Tried + 1, _tally.GetValueOrDefault(k).FiveXx);
            if ((result.IsError == true) != refused) _wrong.Add($"{k}: MCP {tool} {(refused ? "was not refused" : "failed")}: {Truncate(text)}");
            if (!refused) Scan(k, "MCP " + tool, text);
            else if (!text.Contains("Document not found", StringComparison.Ordinal)) _wrong.Add($"{k}: MCP {tool} refused other than as not found: {Truncate(text)}");
            if (tool == "list_collections" && result.StructuredContent is { } list
                && list.GetProperty("collections").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "acl").TryGetProperty("documents", out _))
                _wrong.Add($"{k}: MCP list_collections counted the documents of the collection with an access field");
        }
        var control = await mcp.CallToolAsync("read_document", new Dictionary<string, object?> { ["collection"] = "acl", ["id"] = "eng-0" });
        if (control.IsError == true) _wrong.Add($"{k}: MCP read_document of the visible eng-0 failed");
    }

    /// <summary>One read, <see cref="Scale"/> times: the status named, and (unless told) not a trace of a hidden document in the body. Returns the first answer's body.</summary>
    private async Task<string> Probe(string kind, string what, Func<Task<HttpResponseMessage>> send, HttpStatusCode expected, bool scan = true) =>
        await Probe(kind, what, send, [expected], scan);

    private async Task<string> Probe(string kind, string what, Func<Task<HttpResponseMessage>> send, HttpStatusCode expected, HttpStatusCode orElse, bool scan = true) =>
        await Probe(kind, what, send, [expected, orElse], scan);

    private async Task<string> Probe(string kind, string what, Func<Task<HttpResponseMessage>> send, HttpStatusCode[] expected, bool scan)
    {
        string? first = null;
        for (var i = 0; i < Scale; i++)
        {
            using var r = await send();
            var body = await r.Content.ReadAsStringAsync();
            first ??= body;
            var (tried, fiveXx) = _tally.GetValueOrDefault(kind);
            _tally[kind] = (tried + 1, fiveXx + ((int)r.StatusCode >= 500 && r.StatusCode != HttpStatusCode.ServiceUnavailable ? 1 : 0));
            if (!expected.Contains(r.StatusCode)) _wrong.Add($"{kind}: {what}: {(int)r.StatusCode} {Truncate(body)} (expected {string.Join("/", expected.Select(e => (int)e))})");
            if (scan) Scan(kind, what, body);
        }
        return first!;
    }

    private void Scan(string kind, string what, string body)
    {
        if (Hidden.FirstOrDefault(h => body.Contains(h, StringComparison.Ordinal)) is { } leaked) _wrong.Add($"{kind}: {what} leaked '{leaked}': {Truncate(body)}");
    }

    private async Task<(string Id, HttpClient Client)> KeyAsync(HttpClient op, string role, params string[] groups)
    {
        var made = await (await op.PostAsJsonAsync("v1/admin/keys", new { role, groups })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(groups, made.GetProperty("groups").EnumerateArray().Select(g => g.GetString()!).ToArray());
        return (made.GetProperty("keyId").GetString()!, Client(made.GetProperty("key").GetString()!));
    }

    private static async Task<JsonElement> Search(HttpClient client, object body)
    {
        using var r = await client.PostAsJsonAsync("v1/collections/acl/search", body);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return await r.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>A problem as text without its trace id (each request's own), the document id it names replaced.</summary>
    private static string Problem(string body, string id)
    {
        var problem = System.Text.Json.Nodes.JsonNode.Parse(body)!.AsObject();
        problem.Remove("traceId");
        return problem.ToJsonString().Replace(id, "{id}");
    }

    private static string[] Ids(JsonElement search) => search.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("documentId").GetString()!).ToArray();
}
