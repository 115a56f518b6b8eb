using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Storage;
using RagCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Changes that a kill -9 must leave whole or not at all (issue 35, item 4): a restore killed part-way, and a document in
/// flight when its collection was dropped and created again; and a bulk load killed mid-way loses no acknowledged
/// document (issue 59, item 5). The embedded API silo runs as a real process on a SQLite
/// file; the test kills it with SIGKILL and starts it again on the same file.
/// </summary>
public sealed class AllOrNothingTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("rc-aon").FullName;
    private readonly string _key = "aon-admin-" + Guid.NewGuid().ToString("N");
    private readonly string _url = $"http://127.0.0.1:{Ports.Free()}";
    private SiloProcess? _api;
    private HttpClient? _http;

    private string Store => $"sqlite:{Path.Combine(_data, "ragcluster.db")}";
    private HttpClient Http => _http ??= new HttpClient { BaseAddress = new Uri(_url + "/"), Timeout = TimeSpan.FromSeconds(120), DefaultRequestHeaders = { { "X-Api-Key", _key } } };

    /// <summary>The embedded default as the README runs it, with a short restore lease and sweep so their effects are seen within a test.</summary>
    private async Task StartApiAsync(string[]? embedding = null)
    {
        _api = await SiloProcess.StartApiAsync(_data, _url,
        [
            "--Storage:Path", _data, "--Silo:ClusterId", "aon", .. embedding ?? ["--Embedding:ModelDirectory", RepoPaths.TestModel], "--Embedding:ExecutionProvider", "cpu",
            "--Auth:BootstrapAdminKey", _key, "--Backup:RestoreLease", "00:00:03", "--Ingest:PendingSweepPeriod", "00:00:02",
            "--RateLimit:PermitsPerSecond", "100000", "--RateLimit:Burst", "100000",
        ]);
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var c = await StoreLocation.Parse(Store).OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    /// <summary>Shard log and snapshot rows the store holds for the shards of <paramref name="collection"/> (tenant "default").</summary>
    private Task<long> ShardRowsAsync(string collection) => CountAsync(
        $"SELECT (SELECT COUNT(*) FROM ragcluster_log WHERE grain LIKE 'indexshard/default.{collection}/%') + " +
        $"(SELECT COUNT(*) FROM ragcluster_log_snapshot_page WHERE grain LIKE 'indexshard/default.{collection}/%')");

    [Fact]
    public async Task A_restore_killed_part_way_leaves_nothing_visible_and_is_given_up_by_itself_after_restart()
    {
        const int documents = 40_000, dimensions = 16;
        var archive = BackupArchives.OwnVectors("orig", shardCount: 4, dimensions, documents);
        await StartApiAsync();

        // The restore runs; once its first rows reach a shard's log, the silo is killed.
        var restoring = Http.PostAsync("v1/restore/copy", new ByteArrayContent(archive) { Headers = { ContentType = new("application/zip") } });
        await Poll.UntilAsync(async () => restoring.IsCompleted || await ShardRowsAsync("copy") > 0, seconds: 120);
        Assert.False(restoring.IsCompleted, "the restore ended before the kill; the archive is too small to catch it part-way");
        await _api!.KillAsync();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => restoring);
        var written = await ShardRowsAsync("copy");
        output.WriteLine($"killed with {written} shard row(s) written");
        Assert.True(written > 0);

        await StartApiAsync();
        // Nothing of it is visible: not the collection, not a document, not in the tenant's list, not to a search.
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("v1/collections/copy")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("v1/collections/copy/documents/d00001")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.PostAsJsonAsync("v1/collections/copy/search", new { vector = BackupArchives.Vector(1, dimensions), topK = 3 })).StatusCode);
        Assert.DoesNotContain("copy", await Http.GetStringAsync("v1/collections"));

        // Its lease lapses and the collection gives it up: the name is free again, and the new collection holds none of its rows.
        await Poll.UntilAsync(async () =>
        {
            var create = await Http.PostAsJsonAsync("v1/collections", new { name = "copy", dimensions, shardCount = 4 });
            if (create.StatusCode == HttpStatusCode.Created) return true;
            Assert.Equal(HttpStatusCode.Conflict, create.StatusCode); // "a restore into this collection is in progress"
            return false;
        }, seconds: 60);
        var created = await Http.GetFromJsonAsync<JsonElement>("v1/collections/copy");
        Assert.Equal(0, created.GetProperty("documentCount").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("v1/collections/copy/documents/d00001")).StatusCode);
        var hits = await (await Http.PostAsJsonAsync("v1/collections/copy/search", new { vector = BackupArchives.Vector(1, dimensions), topK = 3 })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(0, hits.GetProperty("hits").GetArrayLength());
        // The abandoned restore's shards retire: their log and snapshot rows go (the new collection's shards have keys of their own).
        await Poll.UntilAsync(async () => await CountAsync(
            "SELECT COUNT(*) FROM ragcluster_log WHERE grain LIKE 'indexshard/default.copy/_' OR grain LIKE 'indexshard/default.copy/__'") == 0, seconds: 60);

        // The same archive restores whole under another name.
        var again = await Http.PostAsync("v1/restore/copy2", new ByteArrayContent(archive) { Headers = { ContentType = new("application/zip") } });
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        Assert.Equal(documents, (await Http.GetFromJsonAsync<JsonElement>("v1/collections/copy2")).GetProperty("documentCount").GetInt32());
        var found = await (await Http.PostAsJsonAsync("v1/collections/copy2/search", new { vector = BackupArchives.Vector(7, dimensions), topK = 1 })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("d00007", found.GetProperty("hits")[0].GetProperty("documentId").GetString());
    }

    [Fact]
    public async Task A_document_in_flight_when_its_collection_was_dropped_never_joins_the_collection_created_again_across_a_kill()
    {
        await StartApiAsync();
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name = "inc", shardCount = 2 })).StatusCode);
        // Its shards refuse writes, so the document stays pending (stored, retried every 2 s).
        var faults = await InjectedWriteFailures.InstallAsync(Store);
        await faults.FailLogAppends("indexshard/default.inc/%");
        Assert.Equal(HttpStatusCode.Accepted, (await Http.PostAsJsonAsync("v1/collections/inc/documents", new { id = "x", text = "the wombat burrows under the old quarry" })).StatusCode);
        Assert.Equal("pending", (await Http.GetFromJsonAsync<JsonElement>("v1/collections/inc/documents/x")).GetProperty("status").GetString());

        // The collection is deleted while the document is in flight (it is not registered, so the delete does not wait
        // for it), the silo is killed, and after the restart a collection of the same name is created.
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync("v1/collections/inc")).StatusCode);
        await _api!.KillAsync();
        await StartApiAsync();
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name = "inc", shardCount = 2 })).StatusCode);
        // Its stored pending version is none of the new collection's, even before it resumes.
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("v1/collections/inc/documents/x")).StatusCode);
        await faults.HealAll();

        // The sweep resumes the document; it finds its collection gone and deletes itself.
        await Poll.UntilAsync(async () =>
            (await Http.GetFromJsonAsync<JsonElement>("v1/collections/inc")).GetProperty("unsettledCount").GetInt32() == 0, seconds: 60);
        var info = await Http.GetFromJsonAsync<JsonElement>("v1/collections/inc");
        Assert.Equal(0, info.GetProperty("documentCount").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("v1/collections/inc/documents/x")).StatusCode);
        var hits = await (await Http.PostAsJsonAsync("v1/collections/inc/search", new { query = "wombat quarry", topK = 3, plan = "bm25" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(0, hits.GetProperty("hits").GetArrayLength());

        // The new collection takes the same id as a document of its own.
        Assert.Equal(HttpStatusCode.Accepted, (await Http.PostAsJsonAsync("v1/collections/inc/documents", new { id = "x", text = "a platypus swims in the creek" })).StatusCode);
        await Poll.UntilAsync(async () => (await Http.GetFromJsonAsync<JsonElement>("v1/collections/inc/documents/x")).GetProperty("status").GetString() == "indexed");
        hits = await (await Http.PostAsJsonAsync("v1/collections/inc/search", new { query = "wombat platypus", topK = 3, plan = "bm25" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["x#0"], hits.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("chunkId").GetString()!).ToArray());
        Assert.Contains("platypus", hits.GetProperty("hits")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_kill_mid_load_loses_no_acknowledged_document_of_either_bulk_path()
    {
        // The hashing encoder: the bulk text path runs whole (chunking, vectors, BM25, graphs) without a model's inference.
        await StartApiAsync(["--Embedding:ModelDirectory", RepoPaths.TokenizerDir, "--Embedding:Encoder", "hashing"]);
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name = "texts", shardCount = 2 })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name = "vecs", dimensions = 16, shardCount = 2 })).StatusCode);
        // Texts are acknowledged once the registry holds them; their shards refuse writes until the kill, so every text
        // acknowledged by then is held by the registry alone and must be indexed after the restart with no call to it.
        var faults = await InjectedWriteFailures.InstallAsync(Store);
        await faults.FailLogAppends("indexshard/default.texts/%");

        var texts = new BulkLoad(Http, "texts", i => new { id = $"t{i}", text = $"document {i} mentions the word zq{i}x among others" });
        var vectors = new BulkLoad(Http, "vecs", i => new { id = $"v{i}", chunks = new[] { new { vector = BackupArchives.Vector(i, 16) } } });
        using var stop = new CancellationTokenSource();
        var loads = Task.WhenAll(texts.RunAsync(stop.Token), texts.RunAsync(stop.Token), vectors.RunAsync(stop.Token), vectors.RunAsync(stop.Token));
        await Poll.UntilAsync(() => Task.FromResult(loads.IsCompleted || texts.Acknowledged.Count >= 300 && vectors.Acknowledged.Count >= 300), seconds: 60);
        Assert.False(loads.IsCompleted, "a load stopped before the kill");
        var pending = (await Http.GetFromJsonAsync<JsonElement>("v1/collections/texts")).GetProperty("unsettledCount").GetInt32();
        Assert.True(pending >= 300, $"{pending} texts pending: the shards' refusal did not hold them back");
        await _api!.KillAsync();
        stop.Cancel();
        await loads;
        await faults.HealAll();
        output.WriteLine($"killed with {texts.Acknowledged.Count} texts ({pending} pending a moment before) and {vectors.Acknowledged.Count} vector documents acknowledged");

        await StartApiAsync(["--Embedding:ModelDirectory", RepoPaths.TokenizerDir, "--Embedding:Encoder", "hashing"]);
        // Only the collection is asked until it is settled: a call to a document would resume it by itself.
        await Poll.UntilAsync(async () =>
            (await Http.GetFromJsonAsync<JsonElement>("v1/collections/texts")).GetProperty("unsettledCount").GetInt32() == 0, seconds: 60);
        foreach (var (load, collection) in new[] { (texts, "texts"), (vectors, "vecs") })
        {
            var count = (await Http.GetFromJsonAsync<JsonElement>($"v1/collections/{collection}")).GetProperty("documentCount").GetInt32();
            Assert.True(count >= load.Acknowledged.Count, $"{collection}: {count} documents, {load.Acknowledged.Count} acknowledged");
            foreach (var id in load.Acknowledged.Keys.Order().Where((_, i) => i % 10 == 0)) // a tenth of them, one call each
                Assert.Equal("indexed", (await Http.GetFromJsonAsync<JsonElement>($"v1/collections/{collection}/documents/{id}")).GetProperty("status").GetString());
        }
        // Found, not just registered: each acknowledged text by its own word, each vector by itself.
        var text = texts.Acknowledged.Keys.Order().Last();
        var hits = await (await Http.PostAsJsonAsync("v1/collections/texts/search", new { query = $"zq{text[1..]}x", topK = 1, plan = "bm25" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(text, hits.GetProperty("hits")[0].GetProperty("documentId").GetString());
        var vector = vectors.Acknowledged.Keys.Order().Last();
        hits = await (await Http.PostAsJsonAsync("v1/collections/vecs/search", new { vector = BackupArchives.Vector(int.Parse(vector[1..]), 16), topK = 1 })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(vector, hits.GetProperty("hits")[0].GetProperty("documentId").GetString());
    }

    /// <summary>Batches of 50 new documents, numbered from one counter that every client of this load shares, until stopped.</summary>
    private sealed class BulkLoad(HttpClient http, string collection, Func<int, object> document)
    {
        private int _next = -1;
        public System.Collections.Concurrent.ConcurrentDictionary<string, long> Acknowledged { get; } = new();

        public async Task RunAsync(CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                var batch = Enumerable.Range(0, 50).Select(_ => document(Interlocked.Increment(ref _next))).ToArray();
                HttpResponseMessage response;
                try { response = await http.PostAsJsonAsync($"v1/collections/{collection}/documents", new { documents = batch }, stop); }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return; } // the kill: not acknowledged
                using (response)
                {
                    if (response.StatusCode != HttpStatusCode.Accepted) continue; // paced (503): these ids are simply not acknowledged
                    var body = await response.Content.ReadFromJsonAsync<JsonElement>(CancellationToken.None);
                    foreach (var d in body.GetProperty("documents").EnumerateArray())
                        if (d.GetProperty("status").GetString() is "pending" or "indexed")
                            Acknowledged[d.GetProperty("documentId").GetString()!] = d.GetProperty("version").GetInt64();
                }
            }
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xUnit v2 never calls a test class's IAsyncDisposable.DisposeAsync, and the
    // API process this class starts outlived every run.
    public async Task DisposeAsync()
    {
        if (_api is not null) await _api.DisposeAsync();
        _http?.Dispose();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}
