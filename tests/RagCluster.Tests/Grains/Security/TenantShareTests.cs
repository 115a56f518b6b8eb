using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RagCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RagCluster.Tests.Rag;

/// <summary>
/// A tenant's share (issue 72, item 3) on the embedded API silo as a real process on a SQLite file: limits an operator
/// sets refuse a write whole (403 naming the limit and the usage, nothing stored), and the usage each collection counts
/// with its registry stays equal to what is stored through updates, deletes, a reshard, a restore and a kill -9 mid-load.
/// </summary>
public sealed class TenantShareTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Dimensions = 4;
    private readonly string _data = Directory.CreateTempSubdirectory("rc-share").FullName;
    private readonly string _key = "share-op-" + Guid.NewGuid().ToString("N");
    private readonly string _url = $"http://127.0.0.1:{Ports.Free()}";
    private SiloProcess? _api;
    private HttpClient? _http;

    private HttpClient Http => _http ??= Client(_key);

    private HttpClient Client(string key) =>
        new() { BaseAddress = new Uri(_url + "/"), Timeout = TimeSpan.FromSeconds(120), DefaultRequestHeaders = { { "X-Api-Key", key } } };

    private async Task StartApiAsync() => _api = await SiloProcess.StartApiAsync(_data, _url,
    [
        "--Storage:Path", _data, "--Silo:ClusterId", "share", "--Embedding:ModelDirectory", RepoPaths.TokenizerDir, "--Embedding:Encoder", "hashing",
        "--Auth:BootstrapAdminKey", _key, "--Ingest:PendingSweepPeriod", "00:00:02", "--RateLimit:PermitsPerSecond", "100000", "--RateLimit:Burst", "100000",
    ]);

    // Document i: one chunk ("d{i}"), or three for a "m" document (the grain path); its bytes are each chunk's text and 4 bytes a dimension.
    private static object Document(string id) => new { id, chunks = Enumerable.Range(0, Chunks(id)).Select(c => new { text = $"{id} part {c}", vector = Vector(id, c) }).ToArray() };
    private static int Chunks(string id) => id.StartsWith('m') ? 3 : 1;
    private static long Bytes(string id) => Enumerable.Range(0, Chunks(id)).Sum(c => Encoding.UTF8.GetByteCount($"{id} part {c}") + 4L * Dimensions);
    private static float[] Vector(string id, int chunk) => [.. Enumerable.Range(0, Dimensions).Select(d => 1f + ((id.GetHashCode() + chunk * 7 + d * 13) & 15))];

    private async Task<JsonElement> UsageAsync(HttpClient? http = null) => await (http ?? Http).GetFromJsonAsync<JsonElement>("v1/admin/tenants/default/usage");

    private static (long Documents, long Vectors, long Bytes) Of(JsonElement e) => (e.GetProperty("documents").GetInt64(), e.GetProperty("vectors").GetInt64(), e.GetProperty("bytes").GetInt64());

    private static (long, long, long) Expected(IEnumerable<string> ids) => ids.Aggregate((0L, 0L, 0L), (s, id) => (s.Item1 + 1, s.Item2 + Chunks(id), s.Item3 + Bytes(id)));

    private async Task<HttpResponseMessage> BatchAsync(string collection, IEnumerable<string> ids) =>
        await Http.PostAsJsonAsync($"v1/collections/{collection}/documents", new { documents = ids.Select(Document).ToArray() });

    private async Task<List<string>> ListedAsync(string collection) =>
        [.. (await Http.GetFromJsonAsync<JsonElement>($"v1/collections/{collection}/documents?limit=10000")).GetProperty("documentIds").EnumerateArray().Select(i => i.GetString()!)];

    private async Task SetLimitsAsync(object limits) => Assert.Equal(HttpStatusCode.OK, (await Http.PutAsJsonAsync("v1/admin/tenants/default/limits", limits)).StatusCode);

    private static IEnumerable<string> Ids(int from, int count) => Enumerable.Range(from, count).Select(i => $"d{i}");

    [Fact]
    public async Task Limits_refuse_a_write_whole_and_usage_stays_what_is_stored_through_deletes_a_reshard_a_restore_and_a_kill()
    {
        await StartApiAsync();
        // Who may: an operator sets limits; a tenant admin reads its own tenant's usage, not another's, and sets none.
        var created = await (await Http.PostAsJsonAsync("v1/admin/keys", new { role = "admin", tenant = "acme" })).Content.ReadFromJsonAsync<JsonElement>();
        using (var acme = Client(created.GetProperty("key").GetString()!))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await acme.PutAsJsonAsync("v1/admin/tenants/acme/limits", new { documents = 10 })).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await acme.GetAsync("v1/admin/tenants/default/usage")).StatusCode);
            Assert.Equal(0, (await acme.GetFromJsonAsync<JsonElement>("v1/admin/tenants/acme/usage")).GetProperty("documents").GetInt64());
        }
        var negative = await Http.PutAsJsonAsync("v1/admin/tenants/default/limits", new { vectors = -1 });
        Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        Assert.Contains("vectors", await negative.Content.ReadAsStringAsync());
        var unknown = await Http.PutAsJsonAsync("v1/admin/tenants/default/limits", new { chunks = 10 }); // not "no limit": refused, named
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("chunks", await unknown.Content.ReadAsStringAsync());

        await SetLimitsAsync(new { collections = 2, documents = 60 });
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name = "a", dimensions = Dimensions, shardCount = 2 })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await BatchAsync("a", Ids(0, 50))).StatusCode);
        Assert.Equal(Expected(Ids(0, 50)), Of(await UsageAsync()));

        // 20 more would make 70: refused whole, with the limit and the usage, and none of them stored.
        var over = await BatchAsync("a", Ids(50, 20));
        Assert.Equal(HttpStatusCode.Forbidden, over.StatusCode);
        var problem = await over.Content.ReadFromJsonAsync<JsonElement>();
        output.WriteLine(problem.ToString());
        Assert.Equal(("documents", 60L, 50L, 20L), (problem.GetProperty("limit").GetString(), problem.GetProperty("max").GetInt64(), problem.GetProperty("usage").GetInt64(), problem.GetProperty("adds").GetInt64()));
        Assert.DoesNotContain(await ListedAsync("a"), id => id is "d50" or "d69");
        // Updates add no document; a three-chunk document (its own grain's path) adds three vectors.
        Assert.Equal(HttpStatusCode.Accepted, (await BatchAsync("a", Ids(0, 10))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await Http.PostAsJsonAsync("v1/collections/a/documents", Document("m1"))).StatusCode);
        Assert.Equal(Expected([.. Ids(0, 50), "m1"]), Of(await UsageAsync()));

        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name = "b", dimensions = Dimensions })).StatusCode);
        var third = await Http.PostAsJsonAsync("v1/collections", new { name = "c", dimensions = Dimensions });
        Assert.Equal(HttpStatusCode.Forbidden, third.StatusCode);
        Assert.Contains("collections", await third.Content.ReadAsStringAsync());

        // Deletes give back; a reshard (every chunk copied to new shards) changes nothing.
        foreach (var id in Ids(0, 5)) Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"v1/collections/a/documents/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await Http.PutAsJsonAsync("v1/collections/a", new { shardCount = 4 })).StatusCode);
        await Poll.UntilAsync(async () => (await Http.GetFromJsonAsync<JsonElement>("v1/collections/a")).GetProperty("resharding").ValueKind == JsonValueKind.Null, seconds: 60);
        await Poll.UntilAsync(async () => (await ListedAsync("a")).Count == 46, seconds: 30);
        var inA = await ListedAsync("a");
        var backupIds = inA.ToList();
        Assert.Equal(Expected(inA), Of(await UsageAsync()));

        // A restore is one more collection and all its documents: refused whole by either limit, then taken.
        var backup = await Http.GetByteArrayAsync("v1/collections/a/backup");
        async Task<HttpStatusCode> RestoreAsync() =>
            (await Http.PostAsync("v1/restore/c", new ByteArrayContent(backup) { Headers = { ContentType = new("application/zip") } })).StatusCode;
        Assert.Equal(HttpStatusCode.Forbidden, await RestoreAsync());
        await SetLimitsAsync(new { collections = 3, documents = 91 });
        Assert.Equal(HttpStatusCode.Forbidden, await RestoreAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("v1/collections/c")).StatusCode);
        await SetLimitsAsync(new { collections = 3, documents = 92 });
        Assert.True((await RestoreAsync()) is HttpStatusCode.OK or HttpStatusCode.Created);
        var usage = await UsageAsync();
        Assert.Equal(Expected(inA), Of(usage.GetProperty("byCollection").GetProperty("c")));
        Assert.Equal(Expected([.. inA, .. inA]), Of(usage));

        // Three batches at once, room for one: each sets its growth aside before it is accepted, so exactly one goes in.
        await SetLimitsAsync(new { documents = 92 + 30 });
        var racing = await Task.WhenAll(Enumerable.Range(0, 3).Select(r => BatchAsync("a", Enumerable.Range(0, 20).Select(i => $"r{r}-{i}"))));
        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden], racing.Select(r => r.StatusCode).Order());
        inA = await ListedAsync("a");
        Assert.Equal(66, inA.Count);
        Assert.Equal(Expected([.. inA, .. backupIds]), Of(await UsageAsync()));

        // A load killed mid-way: after the restart and the sweep, what is counted is what is stored, no more, no less.
        await SetLimitsAsync(new { documents = 100_000 });
        var next = -1;
        var acknowledged = 0;
        using var stop = new CancellationTokenSource();
        async Task Load()
        {
            while (!stop.IsCancellationRequested)
            {
                var batch = Enumerable.Range(0, 25).Select(_ => Interlocked.Increment(ref next)).Select(i => i % 10 == 0 ? $"m{i}" : $"d{i}").ToList();
                try
                {
                    using var r = await Http.PostAsJsonAsync("v1/collections/b/documents", new { documents = batch.Select(Document).ToArray() }, stop.Token);
                    if (r.StatusCode == HttpStatusCode.Accepted) Interlocked.Add(ref acknowledged, batch.Count);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return; } // the kill
            }
        }
        var loads = Task.WhenAll(Load(), Load(), Load());
        await Poll.UntilAsync(() => Task.FromResult(loads.IsCompleted || Volatile.Read(ref acknowledged) >= 500), seconds: 60);
        Assert.False(loads.IsCompleted, "the load stopped before the kill");
        await _api!.KillAsync();
        stop.Cancel();
        await loads;
        await StartApiAsync();
        await Poll.UntilAsync(async () => (await Http.GetFromJsonAsync<JsonElement>("v1/collections/b")).GetProperty("unsettledCount").GetInt32() == 0, seconds: 90);
        var inB = await ListedAsync("b");
        usage = await UsageAsync();
        output.WriteLine($"killed with {acknowledged} documents acknowledged; {inB.Count} stored in b; usage {usage}");
        Assert.True(inB.Count >= acknowledged, $"{inB.Count} stored, {acknowledged} acknowledged");
        Assert.Equal(Expected(inB), Of(usage.GetProperty("byCollection").GetProperty("b")));
        Assert.Equal(Expected([.. inA, .. backupIds, .. inB]), Of(usage));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_api is not null) await _api.DisposeAsync();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
