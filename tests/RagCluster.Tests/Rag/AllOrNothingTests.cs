using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Storage;
using RagCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Changes that a kill -9 must leave whole or not at all (issue 35, item 4): a restore killed part-way, and a document in
/// flight when its collection was dropped and created again. The embedded API silo runs as a real process on a SQLite
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
    private async Task StartApiAsync()
    {
        _api = await SiloProcess.StartApiAsync(_data, _url,
        [
            "--Storage:Path", _data, "--Silo:ClusterId", "aon", "--Embedding:ModelDirectory", RepoPaths.TestModel, "--Embedding:ExecutionProvider", "cpu",
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
