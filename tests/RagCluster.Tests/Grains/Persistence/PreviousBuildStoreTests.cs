using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// An API started on a store the build of commit 53048ca wrote (Fixtures/store-written-by-53048ca.zip, made with the
/// test model): collections "kb" (four documents, two through a batch) and "vec" (own vectors, bulk path), a reader key,
/// cached searches; and a backup of "kb" that build made (Fixtures/backup-written-by-53048ca.zip). Contracts moved
/// namespaces since; their [Alias]es must keep all of it readable.
/// </summary>
public sealed class PreviousBuildStoreApiProcess : ApiProcess
{
    /// <summary>The reader key that build issued (a throwaway store's; its secret is no secret).</summary>
    public const string ReaderKey = "rck_k2982566c830ef61e.pM0GU3KJdSU2lzRBu6UyCqc3-UmvC67iqJ7eYf9oG_M";

    protected override Task PrepareStoreAsync()
    {
        ZipFile.ExtractToDirectory(Path.Combine(AppContext.BaseDirectory, "Fixtures", "store-written-by-53048ca.zip"), Path.GetDirectoryName(StoreFile)!);
        return Task.CompletedTask;
    }
}

public sealed class PreviousBuildStoreTests(PreviousBuildStoreApiProcess api) : IClassFixture<PreviousBuildStoreApiProcess>
{
    private async Task<JsonElement> Post(string path, object body, HttpClient? http = null)
    {
        using var r = await (http ?? api.Http).PostAsJsonAsync(path, body);
        Assert.True(r.IsSuccessStatusCode, $"{path}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return await r.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string[] Ids(JsonElement search) => search.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("chunkId").GetString()!).ToArray();

    [Fact]
    public async Task Collections_documents_shards_and_keys_written_by_the_previous_build_read_as_before()
    {
        var kb = await api.Http.GetFromJsonAsync<JsonElement>("v1/collections/kb");
        Assert.Equal(4, kb.GetProperty("documentCount").GetInt32());
        Assert.Equal(2, kb.GetProperty("settings").GetProperty("shardCount").GetInt32());
        var vec = await api.Http.GetFromJsonAsync<JsonElement>("v1/collections/vec");
        Assert.Equal(4, vec.GetProperty("settings").GetProperty("dimensions").GetInt32());

        // Grain states (tea, volcano) and registry records (glacier, kaffee from a batch; p1..p3 from the bulk path).
        var statuses = await Post("v1/collections/kb/documents/statuses", new { ids = new[] { "tea", "volcano", "glacier", "kaffee" } });
        Assert.Equal([("indexed", 2), ("indexed", 1), ("indexed", 1), ("indexed", 1)], statuses.GetProperty("documents").EnumerateArray()
            .Select(d => (d.GetProperty("status").GetString(), d.GetProperty("chunkCount").GetInt32())));
        var own = await Post("v1/collections/vec/documents/statuses", new { ids = new[] { "p1", "p2", "p3" } });
        Assert.Equal([1, 1, 2], own.GetProperty("documents").EnumerateArray().Select(d => d.GetProperty("chunkCount").GetInt32()));

        // Shards load their snapshots and logs: the same hits as that build answered.
        Assert.Equal(["tea#0", "tea#1"], Ids(await Post("v1/collections/kb/search", new { query = "green tea boiling water", topK = 3, plan = "bm25" })));
        Assert.Equal(["glacier#0", "volcano#0"], Ids(await Post("v1/collections/kb/search",
            new { query = "volcano glacier tea", topK = 5, plan = "bm25", filter = new Dictionary<string, string> { ["topic"] = "geology" } })).Order());
        Assert.Equal(["p1#0", "p2#0"], Ids(await Post("v1/collections/vec/search", new { vector = new[] { 0.9f, 0.1f, 0f, 0f }, topK = 2 })));

        // The stored reader key still verifies, with its role.
        using var reader = new HttpClient { BaseAddress = api.Http.BaseAddress };
        reader.DefaultRequestHeaders.Add("X-Api-Key", PreviousBuildStoreApiProcess.ReaderKey);
        Assert.Equal(["tea#0", "tea#1"], Ids(await Post("v1/collections/kb/search", new { query = "green tea", topK = 2, plan = "bm25" }, reader)));
        using var write = await reader.PostAsJsonAsync("v1/collections/kb/documents", new { id = "x", text = "refused" });
        Assert.Equal(HttpStatusCode.Forbidden, write.StatusCode);

        // And the new build writes on top of it.
        await Post("v1/collections/kb/documents", new { id = "river", text = "A river carries water to the sea." });
        await Poll.UntilAsync(async () => (await Post("v1/collections/kb/documents/statuses", new { ids = new[] { "river" } }))
            .GetProperty("documents")[0].GetProperty("status").GetString() == "indexed");
        Assert.Equal(5, (await api.Http.GetFromJsonAsync<JsonElement>("v1/collections/kb")).GetProperty("documentCount").GetInt32());
    }

    [Fact]
    public async Task A_backup_the_previous_build_made_restores_with_its_chunks_and_vectors()
    {
        var archive = await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "Fixtures", "backup-written-by-53048ca.zip"));
        using (var restore = await api.Http.PostAsync("v1/restore/kb-restored", new ByteArrayContent(archive) { Headers = { ContentType = new("application/zip") } }))
            Assert.True(restore.IsSuccessStatusCode, $"{(int)restore.StatusCode} {await restore.Content.ReadAsStringAsync()}");
        var restored = await api.Http.GetFromJsonAsync<JsonElement>("v1/collections/kb-restored");
        Assert.Equal(4, restored.GetProperty("documentCount").GetInt32());
        Assert.Equal(["tea#0", "tea#1"], Ids(await Post("v1/collections/kb-restored/search", new { query = "green tea boiling water", topK = 3, plan = "bm25" })));
        var shards = await api.Http.GetFromJsonAsync<JsonElement[]>("v1/collections/kb-restored/shards");
        Assert.Equal(5, shards!.Sum(x => x.GetProperty("vectors").GetInt32())); // the vectors came back, not re-embedded
    }
}
