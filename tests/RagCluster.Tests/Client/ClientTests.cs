using System.Net;
using System.Text;
using System.Text.Json;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>RagCluster.Client against the API process: every resource through typed calls, bulk loads, and its retry rule.</summary>
public sealed class ClientTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    private RagClusterClient Client() => new(api.Http.BaseAddress!, api.AdminKey);

    [Fact]
    public async Task The_readme_flow_and_every_resource_through_the_client()
    {
        using var client = Client();
        Assert.True(await client.EnsureCollectionAsync(new CreateCollectionRequest("client") { ShardCount = 2 }));
        Assert.False(await client.EnsureCollectionAsync(new CreateCollectionRequest("client")));
        Assert.Contains("client", await client.ListCollectionsAsync());

        var one = await client.IngestAsync("client", new DocumentInput("tea") { Text = "Green tea is brewed at about 80 degrees Celsius.", Tags = new() { ["lang"] = "en" } });
        Assert.Equal("tea", one.DocumentId);
        var file = await client.UploadFileAsync("client", new MemoryStream("# Coffee\n\nEspresso is brewed under nine bars of pressure."u8.ToArray()), "coffee.md", tags: new Dictionary<string, string> { ["lang"] = "en" });
        Assert.Equal("coffee.md", file.DocumentId);
        var batch = await client.IngestBatchAsync("client", [new DocumentInput("mate") { Text = "Yerba mate is steeped, never boiled." }, new DocumentInput("bad/id") { Text = "x" }]);
        Assert.Equal((1, 1), (batch.Accepted, batch.Rejected));
        Assert.Equal(400, batch.Documents[1].Error!.Status);

        var settled = await client.WaitForIndexedAsync("client", ["tea", "coffee.md", "mate"], ct: new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        Assert.All(settled.Values, s => Assert.Equal("indexed", s.Status));
        Assert.Equal("notFound", (await client.GetDocumentStatusesAsync("client", ["never"])).Single().Status);
        var contents = await client.GetDocumentContentsAsync("client", ["tea", "never", "coffee.md"], includeVectors: true);
        Assert.Equal(["tea", "coffee.md"], contents.Select(d => d.DocumentId));
        Assert.Equal("en", contents[0].Tags["lang"].GetString());
        Assert.Contains("80 degrees", contents[0].Chunks.Single().Text);
        Assert.Equal(1.0, Math.Sqrt(contents[0].Chunks[0].Vector!.Sum(x => (double)x * x)), 3); // the model's vector, length 1
        Assert.Null((await client.GetDocumentContentsAsync("client", ["tea"]))[0].Chunks[0].Vector);
        var ids = new List<string>();
        await foreach (var id in client.AllDocumentIdsAsync("client")) ids.Add(id);
        Assert.Equal(["coffee.md", "mate", "tea"], ids.Order());

        var found = await client.SearchAsync("client", new SearchRequest("espresso pressure") { TopK = 3, Plan = "bm25" });
        Assert.Equal("coffee.md", found.Hits[0].DocumentId);
        var filtered = await client.SearchAsync("client", new SearchRequest("brewed") { Filter = new Dictionary<string, string> { ["lang"] = "en" }, Plan = "bm25" });
        Assert.DoesNotContain(filtered.Hits, h => h.DocumentId == "mate");
        var answer = await client.AskAsync("client", new AskRequest("How is espresso brewed?") { TopK = 3 });
        Assert.NotEmpty(answer.Citations);
        var events = new List<AskEvent>();
        await foreach (var e in client.AskStreamingAsync("client", new AskRequest("How is espresso brewed?") { TopK = 3 })) events.Add(e);
        Assert.IsType<AskEvent.Token>(events[0]);
        Assert.Equal(answer.Answer, string.Concat(events.OfType<AskEvent.Token>().Select(t => t.Text)));
        Assert.Equal(answer.Citations.Select(c => c.ChunkId), events.OfType<AskEvent.Citations>().Single().Items.Select(c => c.ChunkId));
        Assert.IsType<AskEvent.Done>(events[^1]);

        // A problem arrives as a typed error with the API's title, detail and trace id.
        var missing = await Assert.ThrowsAsync<RagClusterException>(() => client.GetCollectionAsync("never-made"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.False(string.IsNullOrEmpty(missing.TraceId));
        var bad = await Assert.ThrowsAsync<RagClusterException>(() => client.SearchAsync("client", new SearchRequest("x") { TopK = 0 }));
        Assert.Equal((HttpStatusCode.BadRequest, "Invalid topK"), (bad.StatusCode, bad.Title));

        // Keys: a writer key made, used, rotated (the old secret stops) and revoked.
        var writer = await client.CreateKeyAsync(new CreateKeyRequest("writer") { Description = "client test" });
        using (var asWriter = new RagClusterClient(api.Http.BaseAddress!, writer.Key))
            await asWriter.IngestAsync("client", new DocumentInput("rooibos") { Text = "Rooibos has no caffeine." });
        var rotated = await client.RotateKeyAsync(writer.KeyId);
        Assert.NotEqual(writer.Key, rotated.Key);
        Assert.Contains(await client.ListKeysAsync(), k => k.KeyId == writer.KeyId);
        Assert.NotNull((await client.RevokeKeyAsync(writer.KeyId)).RevokedAt);

        // Document-level access: a collection with an access field, a reader of one group, its groups changed.
        await client.EnsureCollectionAsync(new CreateCollectionRequest("client-acl") { AccessField = "acl" });
        await client.IngestManyAsync("client-acl", [
            new DocumentInput("hr") { Text = "Tea allowance for the people team.", Tags = new() { ["acl"] = new[] { "hr" } } },
            new DocumentInput("eng") { Text = "Tea machine in the build room.", Tags = new() { ["acl"] = new[] { "eng" } } }]);
        await client.WaitForIndexedAsync("client-acl", ["hr", "eng"]);
        var eng = await client.CreateKeyAsync(new CreateKeyRequest("reader") { Groups = ["eng"] });
        Assert.Equal(["eng"], eng.Groups);
        using (var asEng = new RagClusterClient(api.Http.BaseAddress!, eng.Key))
        {
            Assert.Equal(["eng"], (await asEng.SearchAsync("client-acl", new SearchRequest("tea") { Plan = "bm25" })).Hits.Select(h => h.DocumentId).ToArray());
            Assert.Null((await asEng.GetCollectionAsync("client-acl")).DocumentCount);
            Assert.Equal(["eng", "hr"], (await client.SetKeyGroupsAsync(eng.KeyId, ["hr", "eng"])).Groups);
            await Poll.UntilAsync(async () => (await asEng.SearchAsync("client-acl", new SearchRequest("tea") { Plan = "bm25" })).Hits.Length == 2);
        }
        // An alias stands for the collection; moved, it stands for another.
        Assert.Equal("client-acl", (await client.SetAliasAsync("client-alias", "client-acl")).Collection);
        Assert.Equal(2, (await client.SearchAsync("client-alias", new SearchRequest("tea") { Plan = "bm25" })).Hits.Length);
        Assert.Equal("client", (await client.SetAliasAsync("client-alias", "client")).Collection);
        Assert.Equal("client", (await client.GetAliasAsync("client-alias")).Collection);
        Assert.Contains(await client.ListAliasesAsync(), a => a.Alias == "client-alias");
        await client.DeleteAliasAsync("client-alias");

        // A tenant's share: at its limit a new document is refused (403, naming the limit); the usage counts what is stored.
        var usage = await client.GetTenantUsageAsync("default");
        Assert.Equal(usage.Documents, (await client.SetTenantLimitsAsync("default", new TenantLimits(Documents: usage.Documents))).Documents);
        Assert.Equal(usage.Documents, (await client.GetTenantLimitsAsync("default")).Documents);
        var refused = await Assert.ThrowsAsync<RagClusterException>(() => client.IngestAsync("client", new DocumentInput("one-too-many") { Text = "chai" }));
        Assert.Equal((HttpStatusCode.Forbidden, "Tenant limit reached"), (refused.StatusCode, refused.Title));
        await client.SetTenantLimitsAsync("default", new TenantLimits());
        Assert.True(usage.ByCollection["client"].Documents >= 4);

        // Backup and restore, streamed both ways.
        await client.WaitForIndexedAsync("client", ["rooibos"], ct: new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        using var archive = new MemoryStream();
        await client.BackupAsync("client", archive);
        archive.Position = 0;
        var restored = await client.RestoreAsync("client-copy", archive);
        Assert.Equal(4, restored.Documents);
        Assert.Equal(4, (await client.GetCollectionAsync("client-copy")).DocumentCount);

        var configured = await client.ConfigureCollectionAsync("client", new ConfigureCollectionRequest { ChunkMaxTokens = 200 });
        Assert.Equal(200, configured.Settings.ChunkMaxTokens);
        await client.DeleteDocumentAsync("client", "mate");
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<RagClusterException>(() => client.GetDocumentAsync("client", "mate"))).StatusCode);
        await client.DeleteCollectionAsync("client-copy");
        Assert.DoesNotContain("client-copy", await client.ListCollectionsAsync());
        Assert.True((await client.GetEmbeddingAsync()).Available);
    }

    [Fact]
    public async Task A_bulk_load_pages_through_its_input_reports_progress_keeps_refusals_and_stops_when_cancelled()
    {
        using var client = Client();
        await client.CreateCollectionAsync(new CreateCollectionRequest("bulk") { Dimensions = 4, ShardCount = 2 });
        static IEnumerable<DocumentInput> Documents(int count) => Enumerable.Range(0, count).Select(i => i == 7
            ? new DocumentInput("bad id!") { Chunks = [new ChunkInput("x") { Vector = [1, 0, 0, 0] }] }
            : new DocumentInput($"d{i:D5}") { Chunks = [new ChunkInput($"chunk {i}") { VectorBase64 = RagClusterClient.VectorToBase64([1, i % 7, i % 3, 1]) }] });

        var reports = new List<BulkProgress>();
        var result = await client.IngestManyAsync("bulk", Documents(2_300), new SyncProgress<BulkProgress>(reports.Add), new BulkOptions { BatchSize = 1000 });
        Assert.Equal(2_299, result.Accepted);
        Assert.Equal("bad id!", Assert.Single(result.Rejected).DocumentId);
        Assert.Equal([1000, 2000, 2300], reports.Select(r => r.Submitted));
        Assert.Equal(2_299, reports[^1].Accepted);
        var indexing = new List<IndexingProgress>();
        var statuses = await client.WaitForIndexedAsync("bulk", Documents(2_300).Select(d => d.Id).Where(id => id != "bad id!"), new SyncProgress<IndexingProgress>(indexing.Add),
            TimeSpan.FromMilliseconds(200), new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token);
        Assert.All(statuses.Values, s => Assert.Equal("indexed", s.Status));
        Assert.Equal(0, indexing[^1].Pending);

        // Cancelled after the first request: no further request goes out, and what was accepted stays.
        using var cancel = new CancellationTokenSource();
        var seen = new List<BulkProgress>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.IngestManyAsync("bulk", Documents(5_000).Select(d => d with { Id = "c" + d.Id }),
            new SyncProgress<BulkProgress>(p => { seen.Add(p); cancel.Cancel(); }), new BulkOptions { BatchSize = 500 }, cancel.Token));
        Assert.Single(seen);
        var ids = new List<string>();
        await foreach (var id in client.AllDocumentIdsAsync("bulk")) ids.Add(id);
        Assert.Equal(2_299 + 499, ids.Count); // the first request's 500, one of them the bad id
    }

    [Fact]
    public async Task Refusals_with_retry_after_are_sent_again_within_bounds_and_others_are_not()
    {
        // A stand-in server: each test case scripts its answers.
        var answers = new Queue<Func<HttpResponseMessage>>();
        var sent = 0;
        using var http = new HttpClient(new Scripted(() => { sent++; return answers.Dequeue()(); })) { BaseAddress = new Uri("http://rag.test/") };
        static HttpResponseMessage Refused(HttpStatusCode status, TimeSpan? after)
        {
            var r = new HttpResponseMessage(status) { Content = new StringContent("""{"status":503,"title":"Ingest backlog full","detail":"later","traceId":"abc"}""", Encoding.UTF8, "application/problem+json") };
            if (after is { } a) r.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(a);
            return r;
        }
        static HttpResponseMessage Ok() => new(HttpStatusCode.OK) { Content = new StringContent("""["kb"]""", Encoding.UTF8, "application/json") };
        using var client = new RagClusterClient(http, new RagClusterClientOptions { ApiKey = "k", MaxRetries = 2, MaxRetryDelay = TimeSpan.FromSeconds(5) });

        // 503 and 429 with Retry-After 0: sent again, up to MaxRetries times.
        answers.Enqueue(() => Refused(HttpStatusCode.ServiceUnavailable, TimeSpan.Zero));
        answers.Enqueue(() => Refused(HttpStatusCode.TooManyRequests, TimeSpan.Zero));
        answers.Enqueue(Ok);
        Assert.Equal(["kb"], await client.ListCollectionsAsync());
        Assert.Equal(3, sent);

        // More refusals than MaxRetries: the last one reaches the caller, with its Retry-After.
        sent = 0;
        for (var i = 0; i < 3; i++) answers.Enqueue(() => Refused(HttpStatusCode.ServiceUnavailable, TimeSpan.Zero));
        var exhausted = await Assert.ThrowsAsync<RagClusterException>(() => client.ListCollectionsAsync());
        Assert.Equal((3, HttpStatusCode.ServiceUnavailable, "Ingest backlog full", "abc"), (sent, exhausted.StatusCode, exhausted.Title, exhausted.TraceId));

        // A wait longer than MaxRetryDelay is not waited: at once to the caller, which can see how long to wait.
        sent = 0;
        answers.Enqueue(() => Refused(HttpStatusCode.ServiceUnavailable, TimeSpan.FromMinutes(2)));
        var tooLong = await Assert.ThrowsAsync<RagClusterException>(() => client.ListCollectionsAsync());
        Assert.Equal((1, TimeSpan.FromMinutes(2)), (sent, tooLong.RetryAfter));

        // Other failures are never repeated.
        sent = 0;
        answers.Enqueue(() => new HttpResponseMessage(HttpStatusCode.InternalServerError) { Content = new StringContent("""{"title":"Unexpected failure"}""", Encoding.UTF8, "application/problem+json") });
        await Assert.ThrowsAsync<RagClusterException>(() => client.ListCollectionsAsync());
        Assert.Equal(1, sent);
    }

    [Fact]
    public async Task The_clients_types_agree_with_the_openapi_documents_schemas()
    {
        using var anonymous = new HttpClient { BaseAddress = api.Http.BaseAddress };
        var schemas = JsonDocument.Parse(await anonymous.GetStringAsync("openapi/v1.json")).RootElement.GetProperty("components").GetProperty("schemas");
        var pairs = new (Type Client, string Schema)[]
        {
            (typeof(CreateCollectionRequest), "CreateCollectionRequest"), (typeof(ConfigureCollectionRequest), "ConfigureCollectionRequest"),
            (typeof(CollectionSettings), "CollectionSettings"), (typeof(CollectionSettingsReply), "CollectionSettingsReply"), (typeof(CollectionReply), "CollectionReply"),
            (typeof(ReshardProgress), "ReshardProgress"), (typeof(DocumentIdsPage), "DocumentIdsPage"), (typeof(DocumentAccepted), "DocumentAccepted"),
            (typeof(BatchAccepted), "BatchAccepted"), (typeof(BatchItem), "BatchItem"), (typeof(IngestRejection), "IngestRejection"),
            (typeof(DocumentStatusReply), "DocumentStatusReply"), (typeof(DocumentStatusesReply), "DocumentStatusesReply"),
            (typeof(SearchRequest), "SearchBody"), (typeof(SearchReply), "SearchReply"), (typeof(SearchHitReply), "SearchHitReply"),
            (typeof(CitationReply), "CitationReply"), (typeof(AskReply), "AskReply"), (typeof(CreateKeyRequest), "CreateKeyRequest"),
            (typeof(ApiKeyReply), "ApiKeyReply"), (typeof(RestoreReply), "RestoreReply"), (typeof(EmbeddingReply), "EmbeddingReply"), (typeof(EmbeddingInfo), "EmbeddingInfo"),
            (typeof(ChunkContent), "ChunkContent"), (typeof(DocumentContent), "DocumentContent"), (typeof(DocumentContentsReply), "DocumentContentsReply"),
            (typeof(PlanStats), "PlanStats"), (typeof(ShardStats), "ShardStats"), (typeof(CacheReply), "CacheReply"), (typeof(CacheTierReply), "CacheTierReply"),
            (typeof(ClusterReply), "ClusterReply"), (typeof(ClusterMemberReply), "ClusterMemberReply"), (typeof(AuditEntry), "AuditEntry"),
            (typeof(TenantLimits), "TenantLimitsRequest"), (typeof(TenantUsage), "TenantUsageReply"), (typeof(StoredUsage), "StoredReply"),
        };
        var problems = new List<string>();
        foreach (var (type, name) in pairs)
        {
            if (!schemas.TryGetProperty(name, out var schema)) { problems.Add($"{name}: no such schema"); continue; }
            var declared = schema.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet();
            var mine = type.GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).ToHashSet();
            foreach (var missing in declared.Except(mine)) problems.Add($"{type.Name} lacks {name}.{missing}");
            foreach (var extra in mine.Except(declared)) problems.Add($"{type.Name}.{extra} is not in {name}");
        }
        // The ask request adds "stream" itself (AskStreamingAsync); the rest of AskBody is AskRequest's.
        var ask = schemas.GetProperty("AskBody").GetProperty("properties").EnumerateObject().Select(p => p.Name).Except(["stream"]).Order();
        Assert.Equal(ask, typeof(AskRequest).GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).Order());
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; this reports in order, on the reporting thread.</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    private sealed class Scripted(Func<HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            Assert.Equal("k", request.Headers.GetValues("X-Api-Key").Single());
            return Task.FromResult(answer());
        }
    }
}
