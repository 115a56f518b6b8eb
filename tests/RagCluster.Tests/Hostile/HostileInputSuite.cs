using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RagCluster.Tests.Infrastructure;
using RagCluster.Tests.Rag;
using Xunit.Abstractions;

namespace RagCluster.Tests.Hostile;

/// <summary>
/// Hostile input against the embedded API silo as a real process (issue 35, item 7), beside the fault suite: another
/// tenant's keys, audit, collections and backups; every per-request limit; decompression bombs; malformed and truncated
/// uploads and restores; and the races of item 4 (a collection dropped and created again under a batch in flight, two
/// restores of one name). Every request must be answered with the status named (never a 5xx), nothing a refused request
/// sent may be stored, and the silo's memory peak is reported. <c>RAGCLUSTER_HOSTILE_SCALE</c> (1 in CI) repeats each
/// attack that many times and makes the bombs that many times larger; bench/run_hostile_suite.sh runs it at 5.
/// </summary>
public sealed partial class HostileInputSuite(ITestOutputHelper output) : IAsyncLifetime
{
    private static int Scale => int.TryParse(Environment.GetEnvironmentVariable("RAGCLUSTER_HOSTILE_SCALE"), out var s) && s > 0 ? s : 1;
    private readonly string _data = Directory.CreateTempSubdirectory("rc-hostile").FullName;
    private readonly string _operatorKey = "hostile-op-" + Guid.NewGuid().ToString("N");
    private readonly string _url = $"http://127.0.0.1:{Ports.Free()}";
    private SiloProcess? _api;
    private long _peakBeforeRestart;
    private readonly Dictionary<string, (int Tried, int FiveXx)> _tally = [];
    private readonly List<string> _wrong = [];

    private HttpClient Client(string key) => new() { BaseAddress = new Uri(_url + "/"), Timeout = TimeSpan.FromSeconds(120), DefaultRequestHeaders = { { "X-Api-Key", key } } };

    /// <summary>Sends one hostile request and checks its answer: one of <paramref name="expected"/>, a problem, never a 5xx.</summary>
    private async Task Expect(string kind, string what, Func<Task<HttpResponseMessage>> send, params HttpStatusCode[] expected)
    {
        for (var i = 0; i < Scale; i++)
        {
            HttpResponseMessage r;
            try { r = await send(); }
            catch (HttpRequestException e) { r = new HttpResponseMessage((HttpStatusCode)599) { ReasonPhrase = e.Message }; }
            var (tried, fiveXx) = _tally.GetValueOrDefault(kind);
            _tally[kind] = (tried + 1, fiveXx + ((int)r.StatusCode >= 500 ? 1 : 0));
            if (!expected.Contains(r.StatusCode))
                _wrong.Add($"{kind}: {what}: {(int)r.StatusCode} {Truncate(await r.Content.ReadAsStringAsync())} (expected {string.Join("/", expected.Select(e => (int)e))})");
            else if ((int)r.StatusCode >= 400 && r.Content.Headers.ContentType?.MediaType != "application/problem+json")
                _wrong.Add($"{kind}: {what}: {(int)r.StatusCode} is not a problem+json");
        }
    }

    private static string Truncate(string s) => s.Length > 200 ? s[..200] + "…" : s;

    /// <summary>
    /// A JSON body past the endpoint's limit, sent as a well-behaved client sends a large body (Expect: 100-continue), so
    /// the server's early 413 is read rather than lost to the connection it closes mid-upload.
    /// </summary>
    private static Task<HttpResponseMessage> Oversized(HttpClient client, string path, int bytes)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent($"{{\"id\":\"big\",\"text\":\"{new string('a', bytes)}\"}}", Encoding.UTF8, "application/json"),
        };
        request.Headers.ExpectContinue = true;
        return client.SendAsync(request);
    }

    private static HttpContent Zip(byte[] bytes) => new ByteArrayContent(bytes) { Headers = { ContentType = new("application/zip") } };

    [Fact]
    public async Task Hostile_requests_get_4xx_never_5xx_and_store_nothing()
    {
        _api = await StartApiAsync();
        using var op = Client(_operatorKey);
        // What is legitimately there: default's "kb" (text) and "vec" (own vectors, 8 dimensions), each with documents.
        Assert.Equal(HttpStatusCode.Created, (await op.PostAsJsonAsync("v1/collections", new { name = "kb", shardCount = 2 })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await op.PostAsJsonAsync("v1/collections", new { name = "vec", shardCount = 2, dimensions = 8 })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await op.PostAsJsonAsync("v1/collections/kb/documents", new { documents = Enumerable.Range(0, 5).Select(i => new { id = $"k{i}", text = $"kept document {i} about lighthouses" }) })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await op.PostAsJsonAsync("v1/collections/vec/documents", new { documents = Enumerable.Range(0, 5).Select(i => new { id = $"v{i}", chunks = new[] { new { text = $"v{i}", vector = BackupArchives.Vector(i, 8) } } }) })).StatusCode);
        await Poll.UntilAsync(async () => (await op.GetFromJsonAsync<JsonElement>("v1/collections/kb")).GetProperty("documentCount").GetInt32() == 5);
        var backup = await (await op.GetAsync("v1/collections/vec/backup")).Content.ReadAsByteArrayAsync();

        // Where the memory peak comes from (issue 73, item 2): the process's high-water mark after each phase.
        var peaks = new List<string>();
        void PeakAfter(string phase) => peaks.Add($"{phase} {_api!.PeakResidentBytes >> 20}");
        PeakAfter("set-up");
        await CrossTenantAsync(op);
        PeakAfter("tenant");
        await LimitsAsync(op);
        PeakAfter("limits");
        await BombsAndMalformedAsync(op, backup);
        PeakAfter("files");
        await RacesAsync(op, backup);
        PeakAfter("races");

        // Nothing a refused request sent was stored: the tenant holds what it held, with the documents it had.
        var collections = (await op.GetFromJsonAsync<string[]>("v1/collections"))!.Order().ToArray();
        Assert.Equal(["kb", "race", "raced", "vec"], collections);
        foreach (var (name, count) in new[] { ("kb", 5), ("vec", 5) })
            Assert.Equal(count, (await op.GetFromJsonAsync<JsonElement>($"v1/collections/{name}")).GetProperty("documentCount").GetInt32());
        foreach (var name in new[] { "bomb", "trunc", "longline", "forged", "checksum", "other" })
            Assert.Equal(HttpStatusCode.NotFound, (await op.GetAsync($"v1/collections/{name}")).StatusCode);
        await DocumentAccessAsync(op); // last: it restarts the silo

        var tried = _tally.Values.Sum(t => t.Tried);
        var fiveXx = _tally.Values.Sum(t => t.FiveXx);
        foreach (var (kind, (n, f)) in _tally) output.WriteLine($"{kind}: {n} requests, {f} 5xx");
        output.WriteLine($"memory high-water mark after each phase, MiB: {string.Join(", ", peaks)} (the access phase restarts the silo)");
        output.WriteLine($"hostile suite (scale {Scale}): {tried} requests, {fiveXx} 5xx, {_wrong.Count} unexpected answers; API silo memory peak {Math.Max(_peakBeforeRestart, _api!.PeakResidentBytes) / (1 << 20)} MiB");
        Assert.True(_wrong.Count == 0, string.Join("\n", _wrong.Take(20)));
        Assert.Equal(0, fiveXx);
    }

    private Task<SiloProcess> StartApiAsync() => SiloProcess.StartApiAsync(_data, _url,
    [
        "--Storage:Path", _data, "--Silo:ClusterId", "hostile", "--Embedding:ModelDirectory", RepoPaths.TestModel, "--Embedding:ExecutionProvider", "cpu",
        "--Auth:BootstrapAdminKey", _operatorKey, "--Backup:RestoreLease", "00:00:05", "--Ingest:PendingSweepPeriod", "00:00:02",
        "--RateLimit:PermitsPerSecond", "100000", "--RateLimit:Burst", "100000", "--Query:ReadAfterWaitMs", "500",
    ]);

    // Item 1: a tenant admin reaches nothing of another tenant's, and mints nothing above its own role.
    private async Task CrossTenantAsync(HttpClient op)
    {
        var made = await (await op.PostAsJsonAsync("v1/admin/keys", new { tenant = "acme", role = "admin" })).Content.ReadFromJsonAsync<JsonElement>();
        using var acme = Client(made.GetProperty("key").GetString()!);
        const string k = "tenant";
        await Expect(k, "mint a key in another tenant", () => acme.PostAsJsonAsync("v1/admin/keys", new { tenant = "globex", role = "reader" }), HttpStatusCode.Forbidden);
        await Expect(k, "mint an operator key", () => acme.PostAsJsonAsync("v1/admin/keys", new { tenant = "acme", role = "operator" }), HttpStatusCode.Forbidden);
        await Expect(k, "list default's keys", () => acme.GetAsync("v1/admin/keys?tenant=default"), HttpStatusCode.NotFound);
        await Expect(k, "read default's audit", () => acme.GetAsync("v1/admin/audit?tenant=default"), HttpStatusCode.NotFound);
        await Expect(k, "read default's collection", () => acme.GetAsync("v1/collections/kb?tenant=default"), HttpStatusCode.NotFound);
        await Expect(k, "search default's collection", () => acme.PostAsJsonAsync("v1/collections/kb/search?tenant=default", new { query = "lighthouses" }), HttpStatusCode.NotFound);
        await Expect(k, "write into default's collection", () => acme.PostAsJsonAsync("v1/collections/kb/documents?tenant=default", new { id = "evil", text = "x" }), HttpStatusCode.NotFound);
        await Expect(k, "delete default's collection", () => acme.DeleteAsync("v1/collections/kb?tenant=default"), HttpStatusCode.NotFound);
        await Expect(k, "download default's backup", () => acme.GetAsync("v1/collections/vec/backup?tenant=default"), HttpStatusCode.NotFound);
        await Expect(k, "restore into default", () => acme.PostAsync("v1/restore/other?tenant=default", Zip([1, 2, 3])), HttpStatusCode.NotFound);
        await Expect(k, "cluster view", () => acme.GetAsync("v1/cluster"), HttpStatusCode.Forbidden);
        await Expect(k, "cache", () => acme.GetAsync("v1/cache"), HttpStatusCode.Forbidden);
        using var anonymous = new HttpClient { BaseAddress = new Uri(_url + "/") };
        await Expect(k, "no key", () => anonymous.GetAsync("v1/collections"), HttpStatusCode.Unauthorized);
        await Expect(k, "a forged key", () => Client("rc_forged_0123456789abcdef").GetAsync("v1/collections"), HttpStatusCode.Unauthorized);
    }

    // Item 3: every per-request bound answers 400 or 413 and stores nothing.
    private async Task LimitsAsync(HttpClient op)
    {
        const string k = "limits";
        var terms = Enumerable.Range(0, 5000).ToDictionary(i => $"k{i}", i => "v");
        await Expect(k, "5,000 filter terms", () => op.PostAsJsonAsync("v1/collections/kb/search", new { query = "x", filter = terms }), HttpStatusCode.BadRequest);
        await Expect(k, "a 300-character filter value", () => op.PostAsJsonAsync("v1/collections/kb/search", new { query = "x", filter = new { k = new string('v', 300) } }), HttpStatusCode.BadRequest);
        await Expect(k, "topK 100,000", () => op.PostAsJsonAsync("v1/collections/kb/search", new { query = "x", topK = 100_000 }), HttpStatusCode.BadRequest);
        await Expect(k, "ef 1,000,000", () => op.PostAsJsonAsync("v1/collections/vec/search", new { vector = BackupArchives.Vector(1, 8), ef = 1_000_000 }), HttpStatusCode.BadRequest);
        await Expect(k, "a 5,000-character query", () => op.PostAsJsonAsync("v1/collections/kb/search", new { query = new string('q', 5000) }), HttpStatusCode.BadRequest);
        await Expect(k, "a 2 MiB search body", () => Oversized(op, "v1/collections/kb/search", 2 << 20), HttpStatusCode.RequestEntityTooLarge);
        await Expect(k, "33 tags", () => op.PostAsJsonAsync("v1/collections/kb/documents", new { id = "tags", text = "x", tags = Enumerable.Range(0, 33).ToDictionary(i => $"t{i}", i => "v") }), HttpStatusCode.BadRequest);
        await Expect(k, "1,001 documents in a batch", () => op.PostAsJsonAsync("v1/collections/kb/documents", new { documents = Enumerable.Range(0, 1001).Select(i => new { id = $"b{i}", text = "x" }) }), HttpStatusCode.BadRequest);
        await Expect(k, "1,001 ids in a status read", () => op.PostAsJsonAsync("v1/collections/kb/documents/statuses", new { ids = Enumerable.Range(0, 1001).Select(i => $"k{i}") }), HttpStatusCode.BadRequest);
        await Expect(k, "a 51 MiB document", () => Oversized(op, "v1/collections/kb/documents", 51 << 20), HttpStatusCode.RequestEntityTooLarge);
        await Expect(k, "a vector of 9 dimensions into 8", () => op.PostAsJsonAsync("v1/collections/vec/documents", new { id = "dims", chunks = new[] { new { text = "x", vector = new float[9] } } }), HttpStatusCode.BadRequest);
        await Expect(k, "a 5,000-dimension collection", () => op.PostAsJsonAsync("v1/collections", new { name = "wide", dimensions = 5000 }), HttpStatusCode.BadRequest);
        await Expect(k, "a bad collection name", () => op.PostAsJsonAsync("v1/collections", new { name = "../etc" }), HttpStatusCode.BadRequest);
        await Expect(k, "malformed JSON", () => op.PostAsync("v1/collections/kb/search", new StringContent("{\"query\": ", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
        foreach (var id in new[] { "tags", "big", "dims" })
            await Expect(k, $"refused document {id} is not there", () => op.GetAsync($"v1/collections/kb/documents/{id}"), HttpStatusCode.NotFound);
    }

    // Bombs, and files that are cut off or are not what they say: each document fails with its reason, each restore is a 400.
    private async Task BombsAndMalformedAsync(HttpClient op, byte[] backup)
    {
        const string k = "files";
        var bomb = BackupArchives.ZipOf(("word/document.xml", new byte[Scale * (64 << 20)])); // zeros: over 1,000x
        var ids = new List<string>();
        async Task Upload(string id, string format, byte[] content)
        {
            ids.Add(id);
            await Expect(k, $"{format} {id}", () => op.PostAsJsonAsync("v1/collections/kb/documents", new { id, format, contentBase64 = Convert.ToBase64String(content) }), HttpStatusCode.Accepted);
        }
        await Upload("docx-bomb", "docx", bomb);
        await Upload("docx-parts", "docx", BackupArchives.ZipOf(Enumerable.Range(0, 1500).Select(i => ($"p{i}.xml", new byte[] { 1 })).ToArray()));
        await Upload("docx-truncated", "docx", bomb[..(bomb.Length / 2)]);
        await Upload("pdf-truncated", "pdf", TestDocuments.MinimalPdf("a pdf cut in half")[..200]);
        await Upload("pdf-random", "pdf", Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919)).ToArray());
        await Upload("txt-binary", "txt", [0xFF, 0xFE, 0xC3, 0x28]);
        await Poll.UntilAsync(async () =>
        {
            var s = await (await op.PostAsJsonAsync("v1/collections/kb/documents/statuses", new { ids })).Content.ReadFromJsonAsync<JsonElement>();
            return s.GetProperty("documents").EnumerateArray().All(d => d.GetProperty("status").GetString() == "failed");
        }, seconds: 120);

        var restoreBomb = BombBackup(backup);
        await Expect(k, "restore: a decompression bomb", () => op.PostAsync("v1/restore/bomb", Zip(restoreBomb)), HttpStatusCode.BadRequest);
        await Expect(k, "restore: truncated", () => op.PostAsync("v1/restore/trunc", Zip(backup[..(backup.Length / 2)])), HttpStatusCode.BadRequest);
        await Expect(k, "restore: a 5 MiB line", () => op.PostAsync("v1/restore/longline", Zip(LongLineBackup())), HttpStatusCode.BadRequest);
        await Expect(k, "restore: a manifest claiming 1 TB", () => op.PostAsync("v1/restore/forged", Zip(ForgedSizeBackup(backup))), HttpStatusCode.BadRequest);
        var flipped = (byte[])backup.Clone();
        flipped[flipped.Length / 3] ^= 0x55;
        await Expect(k, "restore: one byte changed", () => op.PostAsync("v1/restore/checksum", Zip(flipped)), HttpStatusCode.BadRequest);
        await Expect(k, "restore: not a zip", () => op.PostAsync("v1/restore/other", Zip("PK but not really"u8.ToArray())), HttpStatusCode.BadRequest);
        await Expect(k, "restore: empty", () => op.PostAsync("v1/restore/other", Zip([])), HttpStatusCode.BadRequest);
        await Expect(k, "restore: over an existing collection", () => op.PostAsync("v1/restore/kb", Zip(backup)), HttpStatusCode.Conflict);
    }

    // Item 4's races, as clients make them: a collection dropped and created again while a batch is in flight; two restores of one name.
    private async Task RacesAsync(HttpClient op, byte[] backup)
    {
        const string k = "races";
        for (var round = 0; round < Scale * 3; round++)
        {
            await op.PostAsJsonAsync("v1/collections", new { name = "race", shardCount = 2 });
            var batch = op.PostAsJsonAsync("v1/collections/race/documents", new { documents = Enumerable.Range(0, 200).Select(i => new { id = $"old{i}", text = $"old round {round} document {i}" }) });
            await Expect(k, "drop under a batch", () => op.DeleteAsync("v1/collections/race"), HttpStatusCode.NoContent, HttpStatusCode.NotFound, HttpStatusCode.Conflict, HttpStatusCode.ServiceUnavailable);
            var answered = await batch;
            if ((int)answered.StatusCode >= 500 && answered.StatusCode != HttpStatusCode.ServiceUnavailable) _wrong.Add($"{k}: the batch under a drop answered {(int)answered.StatusCode}");
            await op.DeleteAsync("v1/collections/race"); // finishes a delete a 503 cut short; 404 if done
        }
        Assert.Equal(HttpStatusCode.Created, (await op.PostAsJsonAsync("v1/collections", new { name = "race", shardCount = 2 })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await op.PostAsJsonAsync("v1/collections/race/documents", new { id = "new", text = "the only document of the new collection" })).StatusCode);
        await Poll.UntilAsync(async () =>
        {
            var info = await op.GetFromJsonAsync<JsonElement>("v1/collections/race");
            return info.GetProperty("unsettledCount").GetInt32() == 0 && info.GetProperty("documentCount").GetInt32() >= 1;
        }, seconds: 120);
        var ids = await op.GetFromJsonAsync<JsonElement>("v1/collections/race/documents");
        Assert.Equal(["new"], ids.GetProperty("documentIds").EnumerateArray().Select(i => i.GetString()!).ToArray());
        var hits = await (await op.PostAsJsonAsync("v1/collections/race/search", new { query = "old round document", topK = 10, plan = "bm25" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.All(hits.GetProperty("hits").EnumerateArray(), h => Assert.Equal("new", h.GetProperty("documentId").GetString()));

        // Two restores of one name at once: one creates it, the other is a conflict; the collection is whole.
        var both = await Task.WhenAll(op.PostAsync("v1/restore/raced", Zip(backup)), op.PostAsync("v1/restore/raced", Zip(backup)));
        var codes = both.Select(r => r.StatusCode).Order().ToArray();
        _tally[k] = (_tally.GetValueOrDefault(k).Tried + 2, _tally.GetValueOrDefault(k).FiveXx + codes.Count(c => (int)c >= 500));
        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Conflict], codes);
        Assert.Equal(5, (await op.GetFromJsonAsync<JsonElement>("v1/collections/raced")).GetProperty("documentCount").GetInt32());
    }


    /// <summary>A real backup whose chunks.jsonl is replaced by 0.5 to 1.5 GiB of zeros (about 1,000x smaller stored), its manifest left as it was.</summary>
    private static byte[] BombBackup(byte[] backup) => Replace(backup, "chunks.jsonl", new byte[Math.Min(Scale, 3) * (512 << 20)]);

    /// <summary>A real backup whose manifest says its files inflate to a terabyte each.</summary>
    private static byte[] ForgedSizeBackup(byte[] backup)
    {
        using var src = new ZipArchive(new MemoryStream(backup), ZipArchiveMode.Read);
        using var m = src.GetEntry("manifest.json")!.Open();
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(m)!;
        foreach (var file in manifest["files"]!.AsArray()) file!["bytes"] = 1_000_000_000_000L;
        return Replace(backup, "manifest.json", Encoding.UTF8.GetBytes(manifest.ToJsonString()));
    }

    private static byte[] LongLineBackup()
    {
        var line = JsonSerializer.Serialize(new { documentId = "d", version = 1, contentHash = "h", chunkCount = 0, tags = new { x = new string('x', 5 << 20) } }) + "\n";
        return BackupArchives.Build("long", new { shardCount = 1, chunkMaxTokens = 256, chunkOverlapTokens = 32 }, 1, 0, null, line, "");
    }

    private static byte[] Replace(byte[] archive, string name, byte[] data)
    {
        using var src = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        var parts = src.Entries.Select(e =>
        {
            if (e.FullName == name) return (e.FullName, data);
            using var s = e.Open();
            using var copy = new MemoryStream();
            s.CopyTo(copy);
            return (e.FullName, copy.ToArray());
        }).ToArray();
        return BackupArchives.ZipOf(parts);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xUnit v2 never calls a test class's IAsyncDisposable.DisposeAsync, and the
    // API process this class starts outlived every run.
    public async Task DisposeAsync()
    {
        if (_api is not null) await _api.DisposeAsync();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}
