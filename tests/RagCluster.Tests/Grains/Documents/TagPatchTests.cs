using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Changing a document's tags without its content (PATCH): a new version, no embedding, no vector in a shard's log,
/// the chunks' text and vectors unchanged, and searches that see the new tags at once with readAfter.
/// </summary>
public sealed class TagPatchTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    private HttpClient Http => api.Http;

    private async Task<double> Metric(string name) =>
        PrometheusText.Parse(await Http.GetStringAsync("metrics")).Where(s => s.Name == name).Sum(s => s.Value);

    private async Task<(long Bytes, long Position)[]> Logs() =>
        (await Http.GetFromJsonAsync<JsonElement>("v1/collections/patch/shards")).EnumerateArray()
        .Select(s => (s.GetProperty("logBytes").GetInt64(), s.GetProperty("logPosition").GetInt64())).ToArray();

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    [Fact]
    public async Task Tags_change_without_re_embedding_and_searches_see_them()
    {
        var client = api.Client;
        await client.EnsureCollectionAsync(new("patch") { ShardCount = 2, Fields = new() { ["year"] = "integer" } });
        var text = string.Join(' ', Enumerable.Range(0, 40).Select(i => $"Policy clause {i} says that leave is granted for reason number {i}."));
        await client.IngestBatchAsync("patch", [new DocumentInput("d") { Text = text, Tags = new() { ["dept"] = "hr", ["year"] = 2023 } }, new DocumentInput("other") { Text = "unrelated" }]);
        await client.SettledAsync("patch", ["d", "other"]);
        var before = (await client.GetDocumentContentsAsync("patch", ["d"], includeVectors: true)).Single();
        var (embeddings, chunksWritten, logs) = (await Metric("rc_embedding_batch_size_count"), await Metric("rc_ingest_chunks_total"), await Logs());

        var patched = await Http.PatchAsync("v1/collections/patch/documents/d", Json("""{"tags":{"year":2024,"dept":null,"reviewed":true}}"""));
        Assert.Equal(HttpStatusCode.Accepted, patched.StatusCode);
        var version = (await patched.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt64();
        Assert.True(version > before.Version, $"{version} after {before.Version}");
        await client.SettledAsync("patch", ["d"]);

        // No embedding, no chunk written again, and what the shards logged is far smaller than the document's vectors.
        Assert.Equal(embeddings, await Metric("rc_embedding_batch_size_count"));
        Assert.Equal(chunksWritten, await Metric("rc_ingest_chunks_total"));
        var after = await Logs();
        var vectorBytes = before.Chunks.Sum(c => c.Vector!.Length * sizeof(float));
        if (after.Zip(logs).All(p => p.First.Bytes >= p.Second.Bytes)) // no snapshot folded the log meanwhile
            Assert.InRange(after.Zip(logs).Sum(p => p.First.Bytes - p.Second.Bytes), 1, vectorBytes / 2);
        Assert.True(after.Zip(logs).Sum(p => p.First.Position - p.Second.Position) > 0);

        // The same chunks and vectors, the new tags, the new version.
        var now = (await client.GetDocumentContentsAsync("patch", ["d"], includeVectors: true)).Single();
        Assert.Equal(version, now.Version);
        Assert.Equal(before.Chunks.Select(c => (c.ChunkId, c.Text)), now.Chunks.Select(c => (c.ChunkId, c.Text)));
        Assert.All(before.Chunks.Zip(now.Chunks), p => Assert.Equal(p.First.Vector, p.Second.Vector));
        Assert.Equal(["reviewed", "year"], now.Tags.Keys.Order());
        Assert.Equal(2024, now.Tags["year"].GetInt32());

        // Searches see the new tags, at once with readAfter.
        async Task<string[]> Found(string filter) =>
            (await client.SearchAsync("patch", new SearchRequest("leave granted") { TopK = 10, Plan = "bm25", Filter = JsonDocument.Parse(filter).RootElement, ReadAfter = new() { ["d"] = version } }))
            .Hits.Select(h => h.DocumentId).Distinct().ToArray();
        Assert.Equal(["d"], await Found("""{"year":{"$gte":2024},"reviewed":true}"""));
        Assert.Empty(await Found("""{"dept":"hr"}"""));

        // The batch form answers each document on its own; the single form says what is wrong.
        var batch = await (await Http.PatchAsync("v1/collections/patch/documents", Json("""
            {"documents":[{"id":"d","tags":{"dept":"legal"}},{"id":"missing","tags":{"dept":"x"}},{"id":"other","tags":{"year":"soon"}}]}
            """))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((1, 2), (batch.GetProperty("accepted").GetInt32(), batch.GetProperty("rejected").GetInt32()));
        var items = batch.GetProperty("documents").EnumerateArray().ToArray();
        Assert.True(items[0].GetProperty("version").GetInt64() > version);
        Assert.Equal(404, items[1].GetProperty("error").GetProperty("status").GetInt32());
        Assert.Equal("tags.year: the collection declares 'year' as integer; got the string \"soon\"", items[2].GetProperty("error").GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await Http.PatchAsync("v1/collections/patch/documents/missing", Json("""{"tags":{"a":1}}"""))).StatusCode);
        var empty = await Http.PatchAsync("v1/collections/patch/documents/d", Json("""{"tags":{}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        await client.SettledAsync("patch", ["d"]);
        Assert.Equal("legal", (await client.GetDocumentContentsAsync("patch", ["d"])).Single().Tags["dept"].GetString());
    }
}
