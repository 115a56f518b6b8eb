using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Collection aliases (issue 72, item 2) on the API silo as a real process: an alias moved back and forth under steady
/// search and ingest load fails no request and answers no search from both collections; the names never collide; an
/// alias stays inside its tenant; MCP and the client take one where they take a collection.
/// </summary>
public sealed class AliasTests(ApiProcess api, ITestOutputHelper output) : IClassFixture<ApiProcess>
{
    [Fact]
    public async Task Moving_an_alias_under_search_and_ingest_fails_no_request_and_never_mixes_two_collections()
    {
        // Two copies of one corpus, told apart by their ids: a search that mixed them would hold both prefixes.
        foreach (var (name, prefix) in new[] { ("kb-v1", "a"), ("kb-v2", "b") })
        {
            await api.Client.EnsureCollectionAsync(new(name) { ShardCount = 2 });
            await api.Client.IngestManyAsync(name, Enumerable.Range(0, 20).Select(i => new DocumentInput($"{prefix}-{i}") { Text = $"lighthouse keeper log entry {i}" }));
            await api.Client.WaitForIndexedAsync(name, Enumerable.Range(0, 20).Select(i => $"{prefix}-{i}"));
        }
        await api.Client.SetAliasAsync("kb", "kb-v1");

        var (searches, byV1, byV2, mixed, failed, written) = (0, 0, 0, 0, new List<string>(), 0);
        using var stop = new CancellationTokenSource();
        void Failed(string what) { lock (failed) failed.Add(what); }
        async Task Searcher()
        {
            while (!stop.IsCancellationRequested)
            {
                using var r = await api.Http.PostAsJsonAsync("v1/collections/kb/search", new { query = "lighthouse keeper log", topK = 10, plan = "bm25" });
                if (r.StatusCode != HttpStatusCode.OK) { Failed($"search {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}"); continue; }
                var ids = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("documentId").GetString()!).ToList();
                var (v1, v2) = (ids.Any(i => i.StartsWith("a-")), ids.Any(i => i.StartsWith("b-")));
                if (v1 && v2) Interlocked.Increment(ref mixed);
                if (v1 && !v2) Interlocked.Increment(ref byV1);
                if (v2 && !v1) Interlocked.Increment(ref byV2);
                Interlocked.Increment(ref searches);
            }
        }
        async Task Writer()
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                using var r = await api.Http.PostAsJsonAsync("v1/collections/kb/documents", new { id = $"w-{n}", text = $"written through the alias {n}" });
                if (r.StatusCode != HttpStatusCode.Accepted) Failed($"ingest {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
                else Interlocked.Increment(ref written);
            }
        }
        var load = new[] { Searcher(), Searcher(), Writer() };
        // 20 moves, each once the searchers have answered at least 5 more times since the last.
        for (var move = 0; move < 20; move++)
        {
            var before = Volatile.Read(ref searches);
            await api.Client.SetAliasAsync("kb", move % 2 == 0 ? "kb-v2" : "kb-v1");
            await Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref searches) >= before + 5));
        }
        stop.Cancel();
        await Task.WhenAll(load);
        output.WriteLine($"20 moves: {searches} searches ({byV1} answered by kb-v1, {byV2} by kb-v2, {mixed} mixed), {written} documents written, {failed.Count} failed");
        Assert.True(failed.Count == 0, string.Join("\n", failed.Take(5)));
        Assert.Equal(0, mixed);
        Assert.True(byV1 > 0 && byV2 > 0, "the moves never took effect");
        // Every document written through the alias went to exactly one of the two collections.
        async Task<HashSet<string>> Held(string collection)
        {
            var held = new HashSet<string>();
            foreach (var page in Enumerable.Range(0, written).Select(n => $"w-{n}").Chunk(1000))
                held.UnionWith((await api.Client.GetDocumentStatusesAsync(collection, page)).Where(d => d.Status != "notFound").Select(d => d.DocumentId));
            return held;
        }
        var (inV1, inV2) = (await Held("kb-v1"), await Held("kb-v2"));
        Assert.Empty(inV1.Intersect(inV2));
        Assert.Equal(written, inV1.Count + inV2.Count);
    }

    [Fact]
    public async Task Aliases_and_collections_share_a_namespace_stay_in_their_tenant_and_refuse_what_would_drop_a_collection_unnamed()
    {
        await api.Client.EnsureCollectionAsync(new("docs-2026"));
        await api.Client.IngestAsync("docs-2026", new DocumentInput("guide") { Text = "the release guide of 2026" });
        await api.Client.WaitForIndexedAsync("docs-2026", ["guide"]);
        await api.Client.EnsureCollectionAsync(new("other"));

        async Task<(HttpStatusCode Status, string Body)> Put(HttpClient http, string alias, object body)
        {
            using var r = await http.PutAsJsonAsync($"v1/aliases/{alias}", body);
            return (r.StatusCode, await r.Content.ReadAsStringAsync());
        }
        var missing = await Put(api.Http, "handbook", new { collection = "nowhere" });
        Assert.Equal(HttpStatusCode.BadRequest, missing.Status);
        Assert.Contains("collection: no collection 'nowhere'", missing.Body);
        Assert.Equal(HttpStatusCode.BadRequest, (await Put(api.Http, "handbook", new { })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Put(api.Http, "Bad.Name", new { collection = "docs-2026" })).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await Put(api.Http, "other", new { collection = "docs-2026" })).Status); // a collection's name
        Assert.Equal(HttpStatusCode.OK, (await Put(api.Http, "handbook", new { collection = "docs-2026" })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Put(api.Http, "handbook2", new { collection = "handbook" })).Status); // no alias of an alias
        Assert.Equal(HttpStatusCode.Conflict, (await api.Http.PostAsJsonAsync("v1/collections", new { name = "handbook" })).StatusCode);
        Assert.Contains(await api.Client.ListAliasesAsync(), a => a is { Alias: "handbook", Collection: "docs-2026" });

        // Every route that takes a collection takes the alias: reads, search, the collection itself (named as what it is).
        Assert.Equal("docs-2026", (await api.Client.GetCollectionAsync("handbook")).Collection);
        Assert.Equal("guide", (await api.Client.SearchAsync("handbook", new SearchRequest("release guide") { TopK = 1, Plan = "bm25" })).Hits.Single().DocumentId);
        Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync("v1/collections/handbook/documents/guide")).StatusCode);
        // Dropping goes by the collection's own name, and not while an alias names it.
        Assert.Equal(HttpStatusCode.BadRequest, (await api.Http.DeleteAsync("v1/collections/handbook")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await api.Http.DeleteAsync("v1/collections/docs-2026")).StatusCode);

        // MCP takes the alias as its collection argument.
        await using (var mcp = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(api.Http.BaseAddress!, "mcp"), TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["X-Api-Key"] = api.AdminKey },
        })))
        {
            var found = await mcp.CallToolAsync("search", new Dictionary<string, object?> { ["collection"] = "handbook", ["query"] = "release guide", ["topK"] = 1, ["plan"] = "bm25" });
            Assert.True(found.IsError != true, string.Join("\n", found.Content.OfType<TextContentBlock>().Select(t => t.Text)));
            Assert.Contains("guide", found.StructuredContent!.Value.GetRawText());
        }

        // Another tenant neither sees the alias nor can point one of its own at this tenant's collection.
        var made = await (await api.Http.PostAsJsonAsync("v1/admin/keys", new { tenant = "elsewhere", role = "writer" })).Content.ReadFromJsonAsync<JsonElement>();
        using var elsewhere = new HttpClient { BaseAddress = api.Http.BaseAddress };
        elsewhere.DefaultRequestHeaders.Add("X-Api-Key", made.GetProperty("key").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await elsewhere.GetAsync("v1/aliases/handbook")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await elsewhere.PostAsJsonAsync("v1/collections/handbook/search", new { query = "release" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Put(elsewhere, "handbook", new { collection = "docs-2026" })).Status);
        Assert.Empty((await elsewhere.GetFromJsonAsync<JsonElement>("v1/aliases")).EnumerateArray());

        // Deleted, the alias answers 404 and its collection stays.
        Assert.Equal(HttpStatusCode.NoContent, (await api.Http.DeleteAsync("v1/aliases/handbook")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.Http.DeleteAsync("v1/aliases/handbook")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.Http.PostAsJsonAsync("v1/collections/handbook/search", new { query = "release" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync("v1/collections/docs-2026")).StatusCode);
    }
}
