using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RagCluster.Grains.Interfaces.Documents;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 59, item 2: Chroma's own server beside ours in one run, the same vectors through the same client. For each
/// server in turn (Chroma first, then the embedded default, one silo on SQLite, once per quantization): start it on a
/// fresh data folder (ours with `Embedding:Model none`: Chroma's server loads no model either), load DATA_DIR's vectors with IN_FLIGHT clients in requests of BATCH vectors (bodies encoded before
/// the clock starts; a 429/503 is sent again after its Retry-After), read the server's resident memory, then run the
/// queries with the same number of clients, top 10, and score them against the exact top 10 (gt.i32). Both sides keep
/// their defaults (Chroma: HNSW M 16, construction ef 100, search ef 100, l2 space, which ranks unit vectors as cosine
/// does; ours: M 16, construction ef 200, search ef 64, 4 shards). Memory is VmRSS of the server process and its
/// children: right after the load, and once the server is quiet (ours: its shards have folded their logs into
/// snapshots, then a full blocking GC, the same reading the bulk-load bench takes).
/// </summary>
public static class ChromaBench
{
    public static async Task Run(string binDir, string dataDir, string chromaDir, int batch, int inFlight, string[] quantizations)
    {
        var shape = File.ReadAllText(Path.Combine(dataDir, "shape.txt")).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        var (n, dim, q) = (shape[0], shape[1], shape[2]);
        var data = ScaleBench.Read<float>(Path.Combine(dataDir, "data.f32"));
        var queries = ScaleBench.Read<float>(Path.Combine(dataDir, "queries.f32"));
        var truth = ScaleBench.Read<int>(Path.Combine(dataDir, "gt.i32"));
        if (chromaDir != "-") await ChromaAsync(chromaDir, data, n, dim, queries, q, truth, batch, inFlight); // "-": ours alone, to try a setting
        foreach (var quantization in quantizations) await OursAsync(binDir, data, n, dim, queries, q, truth, batch, inFlight, quantization);
    }

    private static async Task ChromaAsync(string chromaDir, float[] data, int n, int dim, float[] queries, int q, int[] truth, int batch, int inFlight)
    {
        var folder = Directory.CreateTempSubdirectory("rc-chroma").FullName;
        var port = BenchCluster.FreePort();
        using var server = Process.Start(new ProcessStartInfo("node", [Path.Combine(chromaDir, "node_modules", "chromadb", "dist", "cli.mjs"), "run", "--path", folder, "--port", port.ToString()])
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/api/v2/"), Timeout = TimeSpan.FromMinutes(5) };
            var ready = Stopwatch.StartNew();
            while (true)
            {
                try { if ((await http.GetAsync("heartbeat")).IsSuccessStatusCode) break; }
                catch (HttpRequestException) when (ready.Elapsed < TimeSpan.FromSeconds(60)) { }
                await Task.Delay(200);
            }
            const string Database = "tenants/default_tenant/databases/default_database/collections";
            var created = await http.PostAsJsonAsync(Database, new { name = "bench" });
            var id = (await created.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
            var idle = Rss(server.Id);
            var rate = await LoadAsync(http, $"{Database}/{id}/add", n, batch, inFlight, ids => JsonSerializer.SerializeToUtf8Bytes(new
            {
                ids = ids.Select(Id),
                embeddings = ids.Select(i => data.AsSpan(i * dim, dim).ToArray()),
            }));
            var count = JsonSerializer.Deserialize<int>(await http.GetStringAsync($"{Database}/{id}/count"));
            if (count != n) throw new InvalidOperationException($"Chroma counts {count} records, {n} sent");
            var afterLoad = Rss(server.Id);
            var (recall, searchRate) = await SearchAsync(queries, q, dim, truth, inFlight, async query =>
            {
                var response = await http.PostAsJsonAsync($"{Database}/{id}/query", new { query_embeddings = new[] { query }, n_results = 10, include = new[] { "distances" } });
                var json = await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
                return json.GetProperty("ids")[0].EnumerateArray().Select(e => e.GetString()!).ToList();
            });
            Report("chroma 1.0.0 (npm chromadb 3.0.14)", "float32", n, dim, batch, inFlight, rate, idle, afterLoad, Rss(server.Id), null, recall, searchRate);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task OursAsync(string binDir, float[] data, int n, int dim, float[] queries, int q, int[] truth, int batch, int inFlight, string quantization)
    {
        // No model, as Chroma's server has none (its client embeds): the same work on both sides.
        await using var cluster = await BenchCluster.StartAsync(binDir, "", 1, "--Embedding:Model", "none");
        var http = cluster.Http;
        (await http.PostAsJsonAsync("v1/collections", new { name = "bench", dimensions = dim, quantization })).EnsureSuccessStatusCode();
        await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(30));
        var silo = cluster.Silos[0].Id;
        var idle = Rss(silo);
        var rate = await LoadAsync(http, "v1/collections/bench/documents", n, batch, inFlight, ids => JsonSerializer.SerializeToUtf8Bytes(new
        {
            documents = ids.Select(i => new { id = Id(i), chunks = new[] { new { vectorBase64 = OwnVectorChunks.ToBase64(data.AsSpan(i * dim, dim)) } } }),
        }));
        var count = (await http.GetFromJsonAsync<JsonElement>("v1/collections/bench")).GetProperty("documentCount").GetInt32();
        if (count != n) throw new InvalidOperationException($"{count} documents registered, {n} sent");
        var afterLoad = Rss(silo);
        var (recall, searchRate) = await SearchAsync(queries, q, dim, truth, inFlight, async query =>
        {
            var body = $$"""{"vectorBase64":"{{OwnVectorChunks.ToBase64(query)}}","topK":10,"plan":"vector"}""";
            var response = await http.PostAsync("v1/collections/bench/search", new StringContent(body, Encoding.UTF8, "application/json"));
            var json = await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
            return json.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("documentId").GetString()!).ToList();
        });
        await cluster.WaitForSnapshotsAsync("bench");
        var quiet = Rss(silo);
        ScaleBench.FullGc(cluster);
        var afterGc = Rss(silo);
        Report("ragcluster (embedded default, 4 shards)", quantization, n, dim, batch, inFlight, rate, idle, afterLoad, quiet, afterGc, recall, searchRate);
        // Where the resident memory is after that GC: mapped files (the runtime's and assemblies' images, the int8
        // originals' file), the GC's heap by generation and what it holds committed beyond it, and the rest (native).
        var metrics = await http.GetStringAsync("metrics");
        double Gc(string name, string? generation = null) => Mb((long)ScaleBench.Metric(
            generation is null ? metrics : string.Join('\n', metrics.Split('\n').Where(l => l.Contains($"gc_heap_generation=\"{generation}\""))), name));
        var graphs = (await http.GetFromJsonAsync<JsonElement>("v1/collections/bench/shards")).EnumerateArray().Sum(x => x.GetProperty("memoryBytes").GetInt64());
        var (file, committed) = (ScaleBench.Rss(cluster, "RssFile:"), Gc("dotnet_gc_last_collection_memory_committed_size_bytes"));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "chroma-side-by-side-memory", encoding = quantization, rss_mb = Mb(afterGc), rss_file_backed_mb = Mb(file), gc_committed_mb = committed,
            graphs_mb = Mb(graphs), // the shards' own count: vectors (codes and scales for int8), links
            gc_heap_mb = Gc("dotnet_gc_last_collection_heap_size_bytes"), poh_mb = Gc("dotnet_gc_last_collection_heap_size_bytes", "poh"),
            loh_mb = Gc("dotnet_gc_last_collection_heap_size_bytes", "loh"), gen2_mb = Gc("dotnet_gc_last_collection_heap_size_bytes", "gen2"),
            fragmentation_mb = Gc("dotnet_gc_last_collection_heap_fragmentation_size_bytes"),
            other_anonymous_mb = Mb(afterGc - file) - committed,
        }));
    }

    private static string Id(int i) => $"v{i}";

    // IN_FLIGHT clients take requests from one queue until it is empty; the rate is from the first request to the last answer.
    private static async Task<double> LoadAsync(HttpClient http, string path, int n, int batch, int inFlight, Func<int[], byte[]> body)
    {
        var bodies = new Queue<byte[]>(Enumerable.Range(0, (n + batch - 1) / batch).Select(r => body(Enumerable.Range(r * batch, Math.Min(batch, n - r * batch)).ToArray())));
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(async _ =>
        {
            while (true)
            {
                byte[] next;
                lock (bodies) if (!bodies.TryDequeue(out next!)) return;
                while (true)
                {
                    var content = new ByteArrayContent(next);
                    content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                    var response = await http.PostAsync(path, content);
                    if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
                    {
                        await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                        continue;
                    }
                    var text = await response.Content.ReadAsStringAsync();
                    if (!response.IsSuccessStatusCode || text.Contains("\"status\":\"rejected\"")) throw new InvalidOperationException($"{(int)response.StatusCode}: {text[..Math.Min(400, text.Length)]}");
                    break;
                }
            }
        }));
        return n / sw.Elapsed.TotalSeconds;
    }

    private static async Task<(double Recall, double Rate)> SearchAsync(float[] queries, int q, int dim, int[] truth, int clients, Func<float[], Task<List<string>>> search)
    {
        for (var w = 0; w < 20; w++) await search(queries.AsSpan(w * dim, dim).ToArray()); // warm, not counted
        var next = -1;
        var hits = 0;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < q;)
            {
                var found = await search(queries.AsSpan(i * dim, dim).ToArray());
                var expected = truth.AsSpan(i * 10, 10).ToArray().Select(Id).ToHashSet();
                Interlocked.Add(ref hits, found.Count(expected.Contains));
            }
        }));
        return (hits / (q * 10.0), q / sw.Elapsed.TotalSeconds);
    }

    private static void Report(string server, string encoding, int n, int dim, int batch, int inFlight, double rate, long idle, long afterLoad, long quiet, long? afterFullGc, double recall, double searchRate) =>
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "chroma-side-by-side", server, encoding, vectors = n, dim, batch, clients = inFlight, load_vectors_per_s = Math.Round(rate),
            rss_idle_mb = Mb(idle), rss_after_load_mb = Mb(afterLoad), rss_quiet_mb = Mb(quiet), rss_after_full_gc_mb = afterFullGc is { } g ? Mb(g) : (double?)null,
            recall_at_10 = Math.Round(recall, 4), searches_per_s = Math.Round(searchRate),
        }));

    private static double Mb(long bytes) => Math.Round(bytes / 1e6);

    // The process and its children (a server may run its engine in a child).
    private static long Rss(int pid)
    {
        long Own(int p) => File.Exists($"/proc/{p}/status")
            ? long.Parse(File.ReadLines($"/proc/{p}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024 : 0;
        var children = File.Exists($"/proc/{pid}/task/{pid}/children")
            ? File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse) : [];
        return Own(pid) + children.Sum(Rss);
    }
}
