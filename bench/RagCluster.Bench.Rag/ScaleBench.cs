using System.Diagnostics;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using RagCluster.Grains.Interfaces.Documents;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 22, items 2 and 5: a collection of ann_data.py's vectors (N unit vectors around N/50 centres, with 1,000
/// held-out queries and their exact top 10) loaded through the API of the shipped processes, one silo (SQLite) or the
/// 3-silo recipe (PostgreSQL, Redis). Documents of CHUNKS vectors each go in as base64, 10 documents a request, 4
/// requests at a time. It measures, in order:
///   the load rate over the whole load;
///   search latency idle (after the first half is loaded) and during the second half's load (one search at a time);
///   resident memory per vector (silos' VmRSS after the load, less theirs before it);
///   recall@10 and latency per ef, through the API with plan "vector";
///   snapshot bytes (the shards' last snapshots);
///   with RESHARD_TO: the shard count raised to it through the API while one client searches, the seconds until the
///   switch, search latency and failures meanwhile, recall@10 after it, and where the new shards sit (issue 22, item 3);
///   failover: every silo process but Redis and PostgreSQL killed (-9) and started again (one silo), or the plain silo
///   holding shard 0 killed (3 silos); the seconds until a search answers again, and each reloaded shard's own load time.
/// </summary>
public static class ScaleBench
{
    private const int DocsPerRequest = 10, Parallel = 4, Searches = 300;

    public static async Task Run(string binDir, string dataDir, int silos, int chunksPerDoc, int shards, int[] efs, int reshardTo, string quantization)
    {
        var shape = File.ReadAllText(Path.Combine(dataDir, "shape.txt")).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        var (n, dim, q) = (shape[0], shape[1], shape[2]);
        var data = Read<float>(Path.Combine(dataDir, "data.f32"));
        var queries = Read<float>(Path.Combine(dataDir, "queries.f32"));
        var gt = Read<int>(Path.Combine(dataDir, "gt.i32"));
        var docs = n / chunksPerDoc;
        _chunksPerDoc = chunksPerDoc;

        await using var cluster = await BenchCluster.StartAsync(binDir, "", silos);
        var http = cluster.Http;
        (await http.PostAsJsonAsync("v1/collections", new { name = "million", dimensions = dim, shardCount = shards, quantization })).EnsureSuccessStatusCode();
        await SearchAsync(http, queries.AsSpan(0, dim).ToArray(), 64); // activates the shards and the query path
        await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(30));
        var rssBefore = Rss(cluster);
        var fileBefore = Rss(cluster, "RssFile:");
        var bodies = Bodies(data, dim, chunksPerDoc, 0, docs / 2);
        var load = Stopwatch.StartNew();
        await LoadAsync(http, bodies);
        await WaitRegisteredAsync(http, docs / 2);
        var firstHalf = load.Elapsed.TotalSeconds;
        await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(120));
        var idleCpuBefore = Cpu(cluster);
        var idle = await LatenciesAsync(http, queries, dim, q, Searches, 64, () => false);
        var idleCpu = Cpu(cluster).Minus(idleCpuBefore);

        bodies = Bodies(data, dim, chunksPerDoc, docs / 2, docs);
        GC.Collect();
        load.Restart();
        var cpuBefore = Cpu(cluster);
        var gcBefore = await GcAsync(http);
        var loading = LoadAsync(http, bodies);
        var during = await LatenciesAsync(http, queries, dim, q, int.MaxValue, 64, () => loading.IsCompleted);
        await loading;
        var cpu = Cpu(cluster).Minus(cpuBefore);
        var gc = await GcAsync(http);
        var (gcPause, gcCount) = (gc.PauseSeconds - gcBefore.PauseSeconds, gc.Collections - gcBefore.Collections);
        await WaitRegisteredAsync(http, docs);
        var secondHalf = load.Elapsed.TotalSeconds;
        bodies = [];
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "scale_load", silos, quantization, vectors = docs * chunksPerDoc, dim, shards, chunks_per_doc = chunksPerDoc,
            load_s = firstHalf + secondHalf, vectors_per_s = docs * chunksPerDoc / (firstHalf + secondHalf),
            idle_search_p50_ms = Percentile(idle, 0.5), idle_search_p99_ms = Percentile(idle, 0.99),
            ingest_search_p50_ms = Percentile(during, 0.5), ingest_search_p99_ms = Percentile(during, 0.99), ingest_searches = during.Count,
            // Where the machine's CPU went during the second half's load: is it saturated, and by whom.
            idle_cores_busy = Math.Round(idleCpu.BusyCores, 2), idle_cpu_pressure = Math.Round(idleCpu.PressureShare, 3),
            ingest_cores_busy = Math.Round(cpu.BusyCores, 2), ingest_cpu_pressure = Math.Round(cpu.PressureShare, 3),
            // The API silo's garbage collections in that window (its /metrics): the time the runtime paused its threads.
            ingest_gc_collections = gcCount, ingest_gc_pause_share = Math.Round(gcPause / cpu.Seconds, 4),
            ingest_gc_mean_pause_ms = gcCount > 0 ? Math.Round(gcPause * 1000 / gcCount, 2) : 0,
            ingest_cores_silos = Math.Round(cpu.Silos / cpu.Seconds, 2), ingest_cores_bench_client = Math.Round(cpu.Client / cpu.Seconds, 2),
            ingest_cores_other = Math.Round(cpu.BusyCores - (cpu.Silos + cpu.Client) / cpu.Seconds, 2), // PostgreSQL, Redis, the kernel
        }));

        await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(300));
        GC.Collect();
        var lazyRss = Rss(cluster) - rssBefore; // as the silos' garbage collectors left it
        FullGc(cluster);
        var rss = Rss(cluster) - rssBefore;
        // File-backed pages mapped into the silos (an int8 shard's full-precision rows, written or searched): page
        // cache the kernel can take back, counted in RSS; the rest is the silos' own (anonymous) memory.
        var mapped = Rss(cluster, "RssFile:") - fileBefore;
        var stats = await ShardsAsync(http);
        var heap = await HeapAsync(http);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "scale_memory", silos, quantization, vectors = docs * chunksPerDoc,
            rss_before_full_gc_bytes_per_vector = lazyRss / (double)(docs * chunksPerDoc),
            rss_mb = rss / 1048576.0, rss_bytes_per_vector = rss / (double)(docs * chunksPerDoc),
            rss_file_backed_mb = mapped / 1048576.0, rss_without_file_backed_bytes_per_vector = (rss - mapped) / (double)(docs * chunksPerDoc),
            // The API silo's managed heap after that full collection (what it holds), and what the GC has committed for
            // it (one silo: all of it; three: the API silo's).
            api_silo_heap_mb = heap.Heap / 1048576.0, api_silo_gc_committed_mb = heap.Committed / 1048576.0,
            index_bytes_per_vector = stats.Sum(s => s.GetProperty("memoryBytes").GetInt64()) / (double)(docs * chunksPerDoc),
            snapshot_mb = stats.Sum(s => s.GetProperty("snapshotBytes").GetInt64()) / 1048576.0,
            shard_vectors = stats.Select(s => s.GetProperty("vectors").GetInt32()).ToArray(),
            shard_silos = stats.Select(s => s.GetProperty("silo").GetString()).ToArray(),
        }));

        foreach (var ef in efs)
        {
            var hits = 0;
            var ms = new List<double>();
            for (var i = 0; i < q; i++)
            {
                var sw = Stopwatch.StartNew();
                var found = await SearchAsync(http, queries.AsSpan(i * dim, dim).ToArray(), ef);
                ms.Add(sw.Elapsed.TotalMilliseconds);
                var truth = gt.AsSpan(i * 10, 10).ToArray().ToHashSet();
                hits += found.Count(truth.Contains);
            }
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "scale_search", silos, quantization, vectors = docs * chunksPerDoc, ef, recall_at_10 = hits / (q * 10.0),
                p50_ms = Percentile(ms, 0.5), p99_ms = Percentile(ms, 0.99), qps_one_client = q / (ms.Sum() / 1000),
            }));
        }

        if (reshardTo > 0) await ReshardAsync(http, queries, gt, dim, q, reshardTo);

        // The crash comes after the load has ended: shards fold their tails into snapshots once quiet for 10 s.
        var settle = Stopwatch.StartNew();
        while ((stats = await ShardsAsync(http)).Any(s => s.GetProperty("logEntries").GetInt32() > 0) && settle.Elapsed < TimeSpan.FromSeconds(90))
            await Task.Delay(1000);
        await FailoverAsync(cluster, queries.AsSpan(0, dim).ToArray(), silos, stats);
    }

    private static async Task ReshardAsync(HttpClient http, float[] queries, int[] gt, int dim, int q, int to)
    {
        var from = (await ShardsAsync(http)).Count;
        var clock = Stopwatch.StartNew();
        var put = await http.PutAsJsonAsync("v1/collections/million", new { shardCount = to });
        if (put.StatusCode != System.Net.HttpStatusCode.Accepted) throw new InvalidOperationException($"reshard: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        var done = false;
        var watching = Task.Run(async () =>
        {
            while (true)
            {
                var info = await http.GetFromJsonAsync<JsonElement>("v1/collections/million");
                if (info.GetProperty("resharding").ValueKind == JsonValueKind.Null) break;
                await Task.Delay(500);
            }
            Volatile.Write(ref done, true);
        });
        var ms = new List<double>();
        var failed = 0;
        for (var i = 0; !Volatile.Read(ref done); i++)
        {
            var sw = Stopwatch.StartNew();
            try
            {
                await SearchAsync(http, queries.AsSpan(i % q * dim, dim).ToArray(), 64 + i / q);
                ms.Add(sw.Elapsed.TotalMilliseconds);
            }
            catch (InvalidOperationException e)
            {
                if (failed++ < 5) Console.Error.WriteLine(e.Message);
            }
        }
        await watching;
        var seconds = clock.Elapsed.TotalSeconds;
        var hits = 0;
        for (var i = 0; i < q; i++)
            hits += (await SearchAsync(http, queries.AsSpan(i * dim, dim).ToArray(), 128)).Count(gt.AsSpan(i * 10, 10).ToArray().Contains);
        var stats = await ShardsAsync(http);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "scale_reshard", from_shards = from, to_shards = stats.Count, reshard_s = seconds,
            vectors_per_s = stats.Sum(s => s.GetProperty("vectors").GetInt32()) / seconds,
            search_p50_ms = Percentile(ms, 0.5), search_p99_ms = Percentile(ms, 0.99), searches = ms.Count, failed_searches = failed,
            recall_at_10_ef128_after = hits / (q * 10.0),
            shard_vectors = stats.Select(s => s.GetProperty("vectors").GetInt32()).ToArray(),
            shard_silos = stats.Select(s => s.GetProperty("silo").GetString()).ToArray(),
        }));
    }

    private static async Task FailoverAsync(BenchCluster cluster, float[] query, int silos, List<JsonElement> before)
    {
        string victim;
        var sw = new Stopwatch();
        if (silos == 1)
        {
            victim = "the only silo (restarted)";
            await cluster.RestartAsync(); // kill -9 and start again on the same store
            sw.Start();
        }
        else
        {
            // A plain silo that holds a shard (the API silo serves the HTTP side of the measurement).
            var apiSilo = (await cluster.Http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("silo").GetString();
            var held = before.First(s => s.GetProperty("silo").GetString() != apiSilo);
            victim = held.GetProperty("silo").GetString()!;
            var process = cluster.Silos.Skip(1).First(p => victim.Contains($":{SiloPort(p)}"));
            process.Kill(entireProcessTree: true);
            sw.Start();
        }
        var attempts = 0;
        while (true)
        {
            attempts++;
            try
            {
                var r = await cluster.Http.PostAsJsonAsync("v1/collections/million/search", new { vector = query, topK = 10, plan = "vector", ef = 65 + attempts });
                if (r.IsSuccessStatusCode) break;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (sw.Elapsed > TimeSpan.FromMinutes(5)) throw new TimeoutException("no search answered within 5 minutes of the kill");
            await Task.Delay(100);
        }
        var answered = sw.Elapsed.TotalSeconds;
        var after = await ShardsAsync(cluster.Http);
        var moved = after.Where(a => before.Any(b => b.GetProperty("shard").GetInt32() == a.GetProperty("shard").GetInt32()
                                                     && b.GetProperty("silo").GetString() == victim) || silos == 1).ToList();
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "scale_failover", silos, victim, search_answers_again_s = answered, attempts,
            log_entries_at_kill = before.Sum(s => s.GetProperty("logEntries").GetInt32()),
            reloaded_shards = moved.Select(s => new
            {
                shard = s.GetProperty("shard").GetInt32(), vectors = s.GetProperty("vectors").GetInt32(),
                load_s = s.GetProperty("activationSeconds").GetDouble(), load_split = s.GetProperty("activationSplit").GetString(),
                snapshot_mb = s.GetProperty("snapshotBytes").GetInt64() / 1048576.0,
            }),
        }));
    }

    // The silo port a process was started with (--Silo:SiloPort N), which its silo address names.
    internal static string SiloPort(Process p)
    {
        var args = File.ReadAllText($"/proc/{p.Id}/cmdline").Split('\0');
        return args[Array.IndexOf(args, "--Silo:SiloPort") + 1];
    }

    // The request bodies, encoded before the clock starts: the client shares the cores with the silos, and encoding
    // a million vectors to base64 JSON while searches are timed would charge its CPU to the cluster.
    private static List<byte[]> Bodies(float[] data, int dim, int chunksPerDoc, int fromDoc, int toDoc) =>
        Enumerable.Range(0, (toDoc - fromDoc + DocsPerRequest - 1) / DocsPerRequest).Select(r =>
        {
            var first = fromDoc + r * DocsPerRequest;
            var documents = Enumerable.Range(first, Math.Min(DocsPerRequest, toDoc - first)).Select(d => new
            {
                id = $"d{d:D7}",
                chunks = Enumerable.Range(0, chunksPerDoc).Select(c => new
                {
                    vectorBase64 = OwnVectorChunks.ToBase64(data.AsSpan((d * chunksPerDoc + c) * dim, dim).ToArray()),
                }).ToArray(),
            }).ToArray();
            return JsonSerializer.SerializeToUtf8Bytes(new { documents });
        }).ToList();

    private static async Task LoadAsync(HttpClient http, List<byte[]> bodies)
    {
        await System.Threading.Tasks.Parallel.ForEachAsync(Enumerable.Range(0, bodies.Count), new ParallelOptions { MaxDegreeOfParallelism = Parallel }, async (r, ct) =>
        {
            for (var attempt = 0; ; attempt++)
            {
                var content = new ByteArrayContent(bodies[r]);
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                var response = await http.PostAsync("v1/collections/million/documents", content, ct);
                var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
                if (response.IsSuccessStatusCode && body.GetProperty("rejected").GetInt32() == 0) break;
                if (attempt > 30) throw new InvalidOperationException($"request {r}: {body}");
                await Task.Delay(1000, ct); // a 503 stored nothing of those documents; send them again
            }
        });
    }

    private static async Task WaitRegisteredAsync(HttpClient http, int documents)
    {
        while ((await http.GetFromJsonAsync<JsonElement>("v1/collections/million")).GetProperty("documentCount").GetInt32() < documents)
            await Task.Delay(500);
    }

    private static async Task<List<double>> LatenciesAsync(HttpClient http, float[] queries, int dim, int q, int count, int ef, Func<bool> stop)
    {
        var ms = new List<double>();
        for (var i = 0; i < count && !stop(); i++)
        {
            var sw = Stopwatch.StartNew();
            // A different ef each round keeps the query cache out of it without changing the work much.
            await SearchAsync(http, queries.AsSpan(i % q * dim, dim).ToArray(), ef + i / q);
            ms.Add(sw.Elapsed.TotalMilliseconds);
        }
        return ms;
    }

    private static async Task<List<int>> SearchAsync(HttpClient http, float[] vector, int ef)
    {
        var r = await http.PostAsJsonAsync("v1/collections/million/search", new { vectorBase64 = OwnVectorChunks.ToBase64(vector), topK = 10, plan = "vector", ef });
        var body = await r.Content.ReadFromJsonAsync<JsonElement>();
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"search: {(int)r.StatusCode} {body}");
        // Chunk "d0001234#56" is vector 1234 * chunksPerDoc + 56; the caller's truth is in vector numbers.
        return body.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("chunkId").GetString()!).Select(VectorNumber).ToList();
    }

    private static int _chunksPerDoc;
    private static int VectorNumber(string chunkId)
    {
        var hash = chunkId.IndexOf('#');
        return int.Parse(chunkId.AsSpan(1, hash - 1)) * _chunksPerDoc + int.Parse(chunkId.AsSpan(hash + 1));
    }

    private static async Task<List<JsonElement>> ShardsAsync(HttpClient http) =>
        (await http.GetFromJsonAsync<JsonElement>("v1/collections/million/shards")).EnumerateArray().ToList();

    private static async Task<(double PauseSeconds, double Collections)> GcAsync(HttpClient http)
    {
        var text = await http.GetStringAsync("metrics");
        return (Metric(text, "dotnet_gc_pause_time_seconds_total"), Metric(text, "dotnet_gc_collections_total"));
    }

    /// <summary>A Prometheus metric summed over its label sets.</summary>
    internal static double Metric(string text, string name) =>
        text.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l.Length == name.Length || l[name.Length] is ' ' or '{')).Sum(Value);

    // "name{labels} value [timestamp]": the value is the first field after the name and its labels.
    private static double Value(string line) => double.Parse(line[(line.Contains('}') ? line.LastIndexOf('}') + 1 : line.IndexOf(' '))..]
        .Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A full blocking garbage collection in every silo, through the runtime's diagnostics port (an EventPipe session
    /// asking for a GC heap collection, as dotnet-gcdump does), so the heap and RSS read after it are what the silos
    /// hold rather than what a server GC with memory to spare has not yet collected.
    /// </summary>
    internal static void FullGc(BenchCluster cluster)
    {
        foreach (var silo in cluster.Silos.Where(p => !p.HasExited))
        {
            var client = new Microsoft.Diagnostics.NETCore.Client.DiagnosticsClient(silo.Id);
            const long Gc = 0x1, GcHeapCollect = 0x800000;
            using var session = client.StartEventPipeSession(
                new Microsoft.Diagnostics.NETCore.Client.EventPipeProvider("Microsoft-Windows-DotNETRuntime", System.Diagnostics.Tracing.EventLevel.Informational, Gc | GcHeapCollect),
                requestRundown: false);
            var drain = session.EventStream.CopyToAsync(Stream.Null);
            Thread.Sleep(TimeSpan.FromSeconds(5)); // the induced collection runs at the session's start; a heap of GBs takes seconds
            session.Stop();
            drain.Wait(TimeSpan.FromSeconds(30));
        }
    }

    private static async Task<(double Heap, double Committed)> HeapAsync(HttpClient http)
    {
        var text = await http.GetStringAsync("metrics");
        return (Metric(text, "dotnet_gc_last_collection_heap_size_bytes"), Metric(text, "dotnet_gc_last_collection_memory_committed_size_bytes"));
    }

    internal static long Rss(BenchCluster cluster, string field = "VmRSS:") => cluster.Silos.Where(p => !p.HasExited).Sum(p =>
        long.Parse(File.ReadLines($"/proc/{p.Id}/status").First(l => l.StartsWith(field, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024);

    /// <summary>
    /// Bytes the cluster's processes wrote since they started (/proc/PID/io): "wchar", handed to write calls (page cache
    /// included, so it does not depend on when the kernel flushes), or "write_bytes", sent to the storage device.
    /// </summary>
    internal static long Written(BenchCluster cluster, string field = "wchar:") => cluster.Silos.Where(p => !p.HasExited).Sum(p =>
        long.Parse(File.ReadLines($"/proc/{p.Id}/io").First(l => l.StartsWith(field, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]));

    /// <summary>CPU use from /proc: the machine's jiffies (total, idle), CPU seconds of the silo processes and of this client, and wall time.</summary>
    internal sealed record CpuSample(double Total, double Idle, double Silos, double Client, double Seconds, double StalledMicroseconds)
    {
        /// <summary>Share of the time some runnable thread waited for a core (Linux PSI, /proc/pressure/cpu "some").</summary>
        public double PressureShare => StalledMicroseconds / 1e6 / Seconds;

        /// <summary>Cores busy on average (jiffies are 1/100 s per core).</summary>
        public double BusyCores => (Total - Idle) / 100.0 / Seconds;

        public CpuSample Minus(CpuSample b) => new(Total - b.Total, Idle - b.Idle, Silos - b.Silos, Client - b.Client, Seconds - b.Seconds,
            StalledMicroseconds - b.StalledMicroseconds);
    }

    internal static CpuSample Cpu(BenchCluster cluster)
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(double.Parse).ToArray();
        static double Seconds(int pid)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (double.Parse(f[11]) + double.Parse(f[12])) / 100.0; // utime + stime, in clock ticks of 1/100 s
        }
        return new CpuSample(fields.Sum(), fields[3] + fields[4], cluster.Silos.Where(p => !p.HasExited).Sum(p => Seconds(p.Id)),
            Seconds(Environment.ProcessId), Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency, Stalled());
        static double Stalled() => File.Exists("/proc/pressure/cpu")
            ? double.Parse(File.ReadLines("/proc/pressure/cpu").First().Split(' ').First(f => f.StartsWith("total=", StringComparison.Ordinal))[6..])
            : double.NaN;
    }

    internal static T[] Read<T>(string path) where T : struct => MemoryMarshal.Cast<byte, T>(File.ReadAllBytes(path)).ToArray();

    internal static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return Math.Round(sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))], 2);
    }

    public static Task RunFromArgs(string[] args) =>
        Run(args[1], args[2], int.Parse(args[3]), args.Length > 4 ? int.Parse(args[4]) : 100, args.Length > 5 ? int.Parse(args[5]) : 4,
            (args.Length > 6 ? args[6] : "16,32,64,128,256").Split(',').Select(int.Parse).ToArray(), args.Length > 7 ? int.Parse(args[7]) : 0,
            args.Length > 8 ? args[8] : "float32");
}
