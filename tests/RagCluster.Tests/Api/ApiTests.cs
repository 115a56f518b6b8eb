using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

public sealed class ApiTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    private HttpClient Http => api.Http;
    private RagClusterClient Client => api.Client;

    /// <summary>Waits until the document settles; fails if it fails.</summary>
    private async Task<DocumentStatusReply> WaitIndexed(string collection, string id)
    {
        var status = await WaitSettled(collection, id);
        Assert.Equal("indexed", status.Status);
        return status;
    }

    private async Task<DocumentStatusReply> WaitSettled(string collection, string id) => (await Client.SettledAsync(collection, [id]))[id];

    private Task<SearchReply> Search(string collection, string query, int topK = 10, string? plan = null, Dictionary<string, string>? filter = null) =>
        Client.SearchAsync(collection, new SearchRequest(query) { TopK = topK, Plan = plan, Filter = filter });

    [Fact]
    public async Task Ingest_search_ask_and_delete_over_http()
    {
        Assert.Contains(api.Output, l => l.Contains("dense retrieval on"));
        var accepted = await Client.IngestAsync("docs", new DocumentInput("tea")
        {
            Text = "Green tea is brewed at about 80 degrees Celsius.\n\nBlack tea needs boiling water and four minutes.", Tags = new() { ["lang"] = "en" },
        });
        Assert.Equal(("tea", "pending"), (accepted.DocumentId, accepted.Status));

        // Multipart upload of a Markdown file.
        await Client.UploadFileAsync("docs", new MemoryStream("# Coffee\n\nEspresso is brewed under nine bars of pressure."u8.ToArray()), "coffee.md",
            tags: new Dictionary<string, string> { ["lang"] = "it" });
        var status = await WaitIndexed("docs", "tea");
        await WaitIndexed("docs", "coffee.md");
        Assert.True(status.ChunkCount >= 1);
        Assert.Equal(1, status.Version);

        var search = await Search("docs", "espresso pressure", 3, "bm25");
        Assert.Equal("bm25", search.Plan);
        Assert.Equal("coffee.md", search.Hits[0].DocumentId);
        var filtered = await Search("docs", "brewed", 5, filter: new() { ["lang"] = "en" });
        Assert.All(filtered.Hits, h => Assert.Equal("tea", h.DocumentId));

        var ask = await Client.AskAsync("docs", new AskRequest("At what temperature is green tea brewed?") { TopK = 3 });
        // The test model's weights are random, so which sentence scores best is not asked here (MeaningTests asks it of
        // the real ones): only that the answer quotes whole sentences of the documents, each cited where it stands.
        string[] sentences = ["Green tea is brewed at about 80 degrees Celsius.", "Black tea needs boiling water and four minutes.", "Espresso is brewed under nine bars of pressure."];
        Assert.NotEmpty(ask.Citations);
        Assert.All(ask.Citations, c => Assert.Contains($"{c.Quote} [{c.Number}]", ask.Answer));
        Assert.All(ask.Citations, c => Assert.Contains(c.Quote, sentences));
        Assert.Equal("extractive", ask.Mode);

        // Streaming: server-sent events carry the same answer, then citations, then done.
        var events = new List<AskEvent>();
        await foreach (var e in Client.AskStreamingAsync("docs", new AskRequest("At what temperature is green tea brewed?"))) events.Add(e);
        Assert.Equal(ask.Answer, string.Concat(events.OfType<AskEvent.Token>().Select(t => t.Text)));
        Assert.IsType<AskEvent.Citations>(events[^2]);
        var done = Assert.IsType<AskEvent.Done>(events[^1]).Summary;
        Assert.Equal((ask.Plan, "extractive"), (done.Plan, done.Mode));
        // On the wire, that stream is text/event-stream: JSON-string tokens, then the citations array, then the summary.
        using (var raw = await Http.PostAsJsonAsync("v1/collections/docs/ask", new { question = "green tea", stream = true }))
        {
            Assert.Equal("text/event-stream", raw.Content.Headers.ContentType?.MediaType);
            var wire = await raw.Content.ReadAsStringAsync();
            Assert.Matches(new System.Text.RegularExpressions.Regex(
                "^(event: token\ndata: \"[^\n]*\"\n\n)+event: citations\ndata: \\[[^\n]*\\]\n\nevent: done\ndata: \\{\"plan\":[^\n]*\\}\n\n$"), wire);
        }

        Assert.True((await Client.GetPlanStatsAsync("docs")).Queries >= 3);
        var shards = await Client.GetShardStatsAsync("docs");
        Assert.Equal(4, shards.Length);
        Assert.True(shards.Sum(x => x.Chunks) >= 2); // tea and coffee.md
        Assert.Equal("L1", (await Search("docs", "espresso pressure", 3, "bm25")).CacheTier);
        var cache = await Client.GetCacheStatsAsync();
        Assert.True(cache.L1.Hits >= 1);
        Assert.True(cache.L2.Entries >= 4);

        await Client.DeleteDocumentAsync("docs", "tea");
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<RagClusterException>(() => Client.GetDocumentAsync("docs", "tea"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<RagClusterException>(() => Client.DeleteDocumentAsync("docs", "tea"))).StatusCode);
        Assert.DoesNotContain((await Search("docs", "green tea", 5)).Hits, h => h.DocumentId == "tea");
    }

    [Fact]
    public async Task Metrics_are_exposed_in_prometheus_text_format()
    {
        await api.CreateCollection("metered");
        await Client.IngestAsync("metered", new DocumentInput("m1") { Text = "Metrics count every grain call." });
        await Client.IngestBatchAsync("metered", [new DocumentInput("b1") { Text = "A batch takes the bulk text path." }, new DocumentInput("b2") { Text = "Its steps are timed." }]);
        await WaitIndexed("metered", "m1");
        await WaitIndexed("metered", "b2");
        for (var i = 0; i < 2; i++) await Search("metered", "grain call", 3);
        using (var anonymous = new HttpClient { BaseAddress = Http.BaseAddress })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("v1/collections/metered/plans")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("metrics")).StatusCode); // admin-only by default
        }
        var response = await Http.GetAsync("metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var samples = PrometheusText.Parse(text);
        // The sum over every series of a metric whose labels include the given ones.
        double Value(string name, params (string Key, string Value)[] labels) =>
            samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).Sum(s => s.Value);

        // Our meters keep their names (OpenTelemetry's exporter adds only the otel_scope_name label).
        Assert.Contains("# TYPE rc_grain_calls_total counter", lines);
        Assert.True(Value("rc_grain_calls_total", ("method", "Ingest"), ("outcome", "ok"), ("type", "IDocumentGrain")) >= 1);
        Assert.Contains("# TYPE rc_grain_call_duration_seconds histogram", lines);
        // Activations by grain class, as Orleans' management grain counts them across the cluster.
        Assert.Contains(samples, s => s.Name == "rc_grain_activations" && s.Labels.ContainsKey("silo") && s.Labels["type"] == "IndexShardGrain");
        Assert.True(Value("rc_cache_hits_total", ("tier", "L1")) >= 1);
        Assert.True(Value("rc_ingest_documents_total", ("outcome", "indexed")) >= 1);
        Assert.True(Value("rc_embedding_batch_size_count") >= 1);
        // How full each inference is (rows over MaxBatch or tokens over MaxBatchTokens) and how little it pads (real over padded tokens): ratios in (0, 1].
        foreach (var fill in new[] { "rc_embedding_batch_fill_ratio", "rc_embedding_padding_fill_ratio" })
        {
            Assert.True(Value(fill + "_count") >= 1, fill);
            Assert.InRange(Value(fill + "_sum") / Value(fill + "_count"), 0.01, 1.0);
        }
        // The ingest rate over the last 10 s, readable without PromQL.
        Assert.Contains("# TYPE rc_ingest_chunks_per_second gauge", lines);
        Assert.Contains("# TYPE rc_ingest_documents_per_second gauge", lines);
        // Documents indexing now, by step: every step is reported, and no count goes below zero (each pass leaves the
        // step it entered).
        var steps = samples.Where(s => s.Name == "rc_ingest_documents_in_progress").ToList();
        Assert.Equal(["chunking", "embedding", "registering", "saving", "waiting_for_slot", "writing_shards"], steps.Select(s => s.Labels["step"]).Order());
        Assert.All(steps, s => Assert.True(s.Value >= 0, $"{s.Labels["step"]}: {s.Value}"));
        // Where a batch's time went on the bulk path, step by step (the batch above took it: each step was timed at least once).
        foreach (var step in new[] { "accepting", "queued", "chunking", "embedding", "writing_shards", "registering" })
            Assert.True(Value("rc_ingest_batch_step_duration_seconds_count", ("step", step)) >= 1, step);
        Assert.Contains(samples, s => s.Name == "rc_query_duration_seconds_bucket" && s.Labels.ContainsKey("plan"));
        // Histogram buckets are cumulative, use our boundaries (advice), and end at +Inf = _count.
        var buckets = samples.Where(s => s.Name == "rc_embedding_batch_size_bucket").ToList();
        Assert.Equal(buckets.Select(b => b.Value).Order(), buckets.Select(b => b.Value));
        Assert.Equal(["1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "1024", "+Inf"], buckets.Select(b => b.Labels["le"]));
        Assert.Equal(Value("rc_embedding_batch_size_count"), buckets[^1].Value);
        Assert.Equal(1, Value("rc_cluster_active_silos"));
        // Orleans' own meter, the .NET runtime's, and ASP.NET Core's requests by route template (not path), method
        // and status: refusals are visible per endpoint.
        Assert.True(Value("orleans_catalog_activations", ("grain_type", "indexshard")) >= 1);
        Assert.True(Value("dotnet_gc_collections_total") >= 0 && samples.Any(s => s.Name == "dotnet_process_memory_working_set_bytes"));
        const string requests = "http_server_request_duration_seconds_count";
        Assert.True(Value(requests, ("http_request_method", "POST"), ("http_route", "/v1/collections/{collection}/search"), ("http_response_status_code", "200")) >= 2);
        Assert.True(Value(requests, ("http_request_method", "GET"), ("http_route", "/v1/collections/{collection}/plans"), ("http_response_status_code", "401")) >= 1);

        // Every series the shipped Grafana dashboard queries is one this scrape serves, labels included.
        var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "deploy", "grafana", "ragcluster-dashboard.json"))).RootElement;
        var exprs = dashboard.GetProperty("panels").EnumerateArray().SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();
        Assert.True(exprs.Count >= 10);
        foreach (var expr in exprs)
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(expr, @"\b(rc_\w+|http_server_\w+)\{([^}]*)\}"))
            {
                Assert.True(samples.Any(s => s.Name == m.Groups[1].Value), $"the dashboard queries {m.Groups[1].Value}, which /metrics does not serve");
                foreach (System.Text.RegularExpressions.Match label in System.Text.RegularExpressions.Regex.Matches(m.Groups[2].Value, @"(\w+)=~?"))
                    if (label.Groups[1].Value != "job") // added by Prometheus when it scrapes
                        Assert.True(samples.Any(s => s.Name == m.Groups[1].Value && s.Labels.ContainsKey(label.Groups[1].Value)), $"{m.Groups[1].Value} has no label {label.Groups[1].Value}");
            }
        foreach (var grouped in exprs.SelectMany(e => System.Text.RegularExpressions.Regex.Matches(e, @"by \(([^)]*)\)").Select(m => m.Groups[1].Value)))
            foreach (var label in grouped.Split(',', StringSplitOptions.TrimEntries).Where(l => l != "le"))
                Assert.True(samples.Any(s => s.Name.StartsWith("rc_", StringComparison.Ordinal) || s.Name.StartsWith("http_", StringComparison.Ordinal) ? s.Labels.ContainsKey(label) : false), $"no series has the label {label} the dashboard groups by");
    }

    [Fact]
    public async Task Deleting_a_collection_removes_its_documents_and_chunks_and_frees_the_name()
    {
        await Client.CreateCollectionAsync(new("doomed"));
        var batch = await Client.IngestBatchAsync("doomed", [new("a") { Text = "Owls hunt at night." }, new("b") { Text = "Owls have silent feathers." }]);
        Assert.Equal(2, batch.Accepted);
        await WaitIndexed("doomed", "a");
        await WaitIndexed("doomed", "b");
        Assert.Equal(2, (await Search("doomed", "owls", plan: "bm25")).Hits.Length);

        await Client.DeleteCollectionAsync("doomed");
        static async Task<HttpStatusCode> Refused(Func<Task> call) => (await Assert.ThrowsAsync<RagClusterException>(call)).StatusCode;
        Assert.Equal(HttpStatusCode.NotFound, await Refused(() => Client.GetCollectionAsync("doomed")));
        Assert.Equal(HttpStatusCode.NotFound, await Refused(() => Client.DeleteCollectionAsync("doomed")));
        Assert.DoesNotContain("doomed", await Client.ListCollectionsAsync());

        // The name is free again, and the new collection starts empty: no old chunks, no cached answers.
        await Client.CreateCollectionAsync(new("doomed"));
        Assert.Empty((await Search("doomed", "owls", plan: "bm25")).Hits);
        Assert.Equal(0, (await Client.GetShardStatsAsync("doomed")).Sum(s => s.Chunks));
        Assert.Equal(HttpStatusCode.NotFound, await Refused(() => Client.GetDocumentAsync("doomed", "a")));
    }

    [Fact]
    public async Task The_openapi_document_describes_the_endpoints_and_the_key_scheme()
    {
        using var anonymous = new HttpClient { BaseAddress = Http.BaseAddress };
        var doc = await anonymous.GetFromJsonAsync<JsonElement>("openapi/v1.json");
        Assert.StartsWith("3.", doc.GetProperty("openapi").GetString());
        var paths = doc.GetProperty("paths");
        foreach (var p in new[] { "/v1/collections", "/v1/collections/{collection}/search", "/v1/collections/{collection}/documents", "/v1/admin/keys", "/v1/restore/{collection}" })
            Assert.True(paths.TryGetProperty(p, out _), $"{p} missing from the OpenAPI document");
        var scheme = doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        Assert.Equal("X-Api-Key", scheme.GetProperty("name").GetString());
        Assert.Equal("header", scheme.GetProperty("in").GetString());
        // Every operation has an id a generator can name a method after, a summary and a tag; no id is used twice.
        var operations = paths.EnumerateObject().SelectMany(p => p.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "delete" or "patch")
            .Select(o => (Where: $"{o.Name.ToUpperInvariant()} {p.Name}", Op: o.Value))).ToList();
        Assert.True(operations.Count >= 30, $"{operations.Count} operations");
        foreach (var (where, op) in operations)
        {
            Assert.True(op.TryGetProperty("operationId", out var id) && id.GetString() is { Length: > 0 }, $"{where} has no operationId");
            Assert.True(op.TryGetProperty("summary", out var summary) && summary.GetString() is { Length: > 0 }, $"{where} has no summary");
            Assert.True(op.TryGetProperty("tags", out var tags) && tags.GetArrayLength() == 1, $"{where} has no tag");
        }
        var ids = operations.Select(o => o.Op.GetProperty("operationId").GetString()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Theory]
    [InlineData("{\"query\":\"ok\",\"topK\":\"5\"}", "the value at $.topK must be a number")]
    [InlineData("{\"query\":12}", "the value at $.query must be a string")]
    [InlineData("{\"query\":\"ok\",\"ef\":\"wide\"}", "the value at $.ef must be a number")]
    [InlineData("[1,2]", "the body must be an object")]
    public async Task A_body_of_the_wrong_shape_is_named_by_json_path_and_kind(string body, string detail)
    {
        var response = await Http.PostAsync("v1/collections/docs/search", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Invalid JSON", problem.GetProperty("title").GetString());
        Assert.Equal(detail, problem.GetProperty("detail").GetString());
    }

    public static TheoryData<string, string, string?, int> BadRequests => new()
    {
        { "POST", "v1/collections/docs/search", "{\"query\":\"\"}", 400 },
        { "POST", "v1/collections/docs/search", "{\"query\":\"" + new string('x', 2001) + "\"}", 400 },
        { "POST", "v1/collections/docs/search", "{\"query\":\"ok\",\"topK\":0}", 400 },
        { "POST", "v1/collections/docs/search", "{\"query\":\"ok\",\"topK\":101}", 400 },
        { "POST", "v1/collections/docs/search", "{\"query\":\"ok\",\"plan\":\"magic\"}", 400 },
        { "POST", "v1/collections/docs/search", "{\"query\":\"ok\",\"filter\":{\"lang\":null}}", 400 },
        { "POST", "v1/collections/docs/ask", "{\"question\":\"ok\",\"filter\":{\"lang\":null}}", 400 },
        { "POST", "v1/collections/docs/search", "{\"query\": 12", 400 },
        { "POST", "v1/collections/docs/search", "{\"query\": 12}", 400 },
        { "POST", "v1/collections/Bad Name/search", "{\"query\":\"ok\"}", 400 },
        { "POST", "v1/collections/docs/ask", "{}", 400 },
        { "POST", "v1/collections/docs/documents", "{\"id\":\"a/b\",\"text\":\"x\"}", 400 },
        { "POST", "v1/collections/docs/documents", "{\"id\":\"ok\"}", 400 },
        { "POST", "v1/collections/docs/documents", "{\"id\":\"ok\",\"text\":\"x\",\"tags\":{\"lang\":null}}", 400 },
        { "POST", "v1/collections/docs/documents", "{\"id\":\"..\",\"text\":\"x\"}", 400 },
        { "POST", "v1/collections/docs/documents", "{\"id\":\"ok\",\"text\":\"x\",\"format\":\"exe\"}", 400 },
        { "GET", "v1/collections/docs/documents/never-ingested", null, 404 },
        { "PUT", "v1/collections/docs", "{\"shardCount\":0}", 400 },
        { "POST", "v1/collections/never-created/search", "{\"query\":\"ok\"}", 404 },
        { "POST", "v1/collections", "{\"name\":\"docs\"}", 409 },
        { "POST", "v1/collections", "{\"name\":\"No.Dots\"}", 400 },
        { "POST", "v1/collections", "{}", 400 },
        { "POST", "v1/admin/keys", "{\"tenant\":\"acme\",\"role\":\"root\"}", 400 },
        { "POST", "v1/admin/keys", "{\"tenant\":\"Acme!\",\"role\":\"reader\"}", 400 },
        { "GET", "v1/admin/keys/knotakey", null, 404 },
        { "GET", "v1/admin/audit?limit=0", null, 400 },
        { "GET", "v1/admin/audit?from=yesterday", null, 400 },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_input_gets_problem_details_not_a_crash(string method, string path, string? body, int expected)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        var response = await Http.SendAsync(request);
        Assert.Equal(expected, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(expected, problem.GetProperty("status").GetInt32());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.False(response.Headers.Contains("Server"));
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
    }

    [Fact]
    public async Task Unsupported_upload_format_is_415_and_the_api_keeps_serving()
    {
        using var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent([1, 2, 3]), "file", "program.exe");
        var r = await Http.PostAsync("v1/collections/docs/documents", form);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, r.StatusCode);
        using var text = new StringContent("plain", Encoding.UTF8, "text/plain");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await Http.PostAsync("v1/collections/docs/search", text)).StatusCode);
        var ready = await Http.GetFromJsonAsync<JsonElement>("health/ready");
        Assert.Equal("ready", ready.GetProperty("status").GetString());
        Assert.True(ready.GetProperty("checks").GetProperty("store").GetBoolean());
        Assert.True(ready.GetProperty("checks").GetProperty("membership").GetBoolean());
        // Loaded by the first text embedded here (other tests of the fixture may have done so already).
        (await Http.PostAsJsonAsync("v1/embeddings", new { input = "tea" })).EnsureSuccessStatusCode();
        ready = await Http.GetFromJsonAsync<JsonElement>("health/ready");
        Assert.Equal("loaded", ready.GetProperty("checks").GetProperty("model").GetString());
    }

    [Fact]
    public async Task Real_pdfs_are_indexed_in_process_and_broken_ones_end_failed_with_a_reason()
    {
        // A Ghostscript-made, three-page PDF, uploaded beside two broken ones: the broken ones fail alone.
        var guide = GhostscriptPdf.Make("Brewing Guide", PdfExtractionTests.Guide);
        foreach (var (name, bytes) in new[] { ("guide.pdf", guide), ("truncated.pdf", guide[..200]), ("broken.pdf", "%PDF-1.4 not really"u8.ToArray()) })
            Assert.Equal("pending", (await Client.UploadFileAsync("docs", new MemoryStream(bytes), name)).Status);
        await WaitIndexed("docs", "guide.pdf");
        foreach (var broken in new[] { "truncated.pdf", "broken.pdf" })
        {
            var s = await WaitSettled("docs", broken);
            Assert.Equal("failed", s.Status);
            Assert.StartsWith("not a readable PDF", s.Error);
        }
        // Text from the last page is found, under its heading.
        var hit = (await Search("docs", "oolong infusions", 1, "bm25")).Hits[0];
        Assert.Equal("guide.pdf", hit.DocumentId);
        Assert.Contains("several infusions", hit.Text);
        Assert.Equal("Oolong", hit.HeadingPath.Last());
    }
}

/// <summary>An API whose configured model cannot load: it serves (BM25) but is not ready.</summary>
public sealed class BrokenModelApiProcess : ApiProcess
{
    protected override string ModelDirectory => "/nonexistent/model";
}

public sealed class ReadinessTests(BrokenModelApiProcess api) : IClassFixture<BrokenModelApiProcess>
{
    [Fact]
    public async Task A_configured_model_that_fails_to_load_makes_the_silo_unready_but_bm25_still_answers()
    {
        var response = await api.Http.GetAsync("health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("failed", problem.GetProperty("checks").GetProperty("model").GetString());
        Assert.Contains("no model.onnx", problem.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync("health/live")).StatusCode);
        await api.Client.CreateCollectionAsync(new("b"));
        await api.Client.IngestAsync("b", new DocumentInput("x") { Text = "lexical search still works" });
        SearchReply? found = null;
        await Poll.UntilAsync(async () => (found = await api.Client.SearchAsync("b", new SearchRequest("lexical search") { TopK = 1 })).Hits.Length == 1);
        Assert.Equal("bm25", found!.Plan);
    }
}

/// <summary>A fake OTLP/HTTP collector on loopback, and an API process that exports its traces to it.</summary>
public sealed class TracedApiProcess : ApiProcess
{
    public static readonly OtlpSink Sink = new();
    protected override string[] ExtraArgs => ["--Otlp:Endpoint", Sink.Url + "/v1/traces", "--Otlp:Protocol", "http", "--Otlp:ExportDelayMs", "200"];
}

public sealed class OtlpSink
{
    private readonly Microsoft.AspNetCore.Builder.WebApplication _app;
    public System.Collections.Concurrent.ConcurrentQueue<byte[]> Batches { get; } = new();
    public string Url { get; }

    public OtlpSink()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapPost("/v1/traces", async (Microsoft.AspNetCore.Http.HttpContext http) =>
        {
            using var ms = new MemoryStream();
            await http.Request.Body.CopyToAsync(ms);
            Batches.Enqueue(ms.ToArray());
            http.Response.ContentType = "application/x-protobuf";
        });
        _app.StartAsync().GetAwaiter().GetResult();
        Url = _app.Urls.First();
    }
}

public sealed class TracingTests(TracedApiProcess api) : IClassFixture<TracedApiProcess>
{
    [Fact]
    public async Task Query_spans_are_exported_over_otlp_when_an_endpoint_is_configured()
    {
        await api.Client.CreateCollectionAsync(new("t"));
        await api.Client.IngestAsync("t", new DocumentInput("x") { Text = "spans travel to the collector" });
        await api.Client.SettledAsync("t", ["x"]);
        await api.Client.SearchAsync("t", new SearchRequest("collector spans") { TopK = 3 });
        // OTLP protobuf keeps strings as raw UTF-8: span names and tags are findable without a protobuf parser. Only
        // server spans (where the grain ran) carry the silo tag.
        await Poll.UntilAsync(() =>
        {
            var text = System.Text.Encoding.UTF8.GetString(TracedApiProcess.Sink.Batches.SelectMany(b => b).ToArray());
            return Task.FromResult(text.Contains("IQueryPlanGrain/Search") && text.Contains("IIndexShardGrain/Search") && text.Contains("ragcluster.silo"));
        }, 10);
    }
}
