using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 84, item 5: does adding silos add capacity? The cluster recipe (PostgreSQL, Redis) grows from one API silo to
/// each count in SILOS, every silo held to CORES cores of its own (taskset), the bench, PostgreSQL and Redis on the cores
/// left over (the caller pins them). At each count: the shards of one own-vector collection spread over the silos
/// (rendezvous placement moves them when a silo joins), CLIENTS closed-loop clients spread over the silos' doors search
/// it for SECONDS; then the first DOCS documents of a BEIR corpus go, in batches spread over the doors, into a new
/// collection with the model, until each is indexed. Search QPS and chunks/s, each against one silo's.
/// </summary>
public static class ScalingBench
{
    public static async Task Run(string binDir, string modelDir, string corpusDir, int[] siloCounts, int coresPerSilo, int vectors, int shards,
        int docs, int clients, int seconds)
    {
        await using var cluster = await BenchCluster.StartRecipeAsync(binDir, modelDir, coresPerSilo, "--Silo:HomeCheckPeriod", "00:00:01");
        List<HttpClient> doors = [cluster.Http];
        var http = cluster.Http;
        (await http.PostAsJsonAsync("v1/collections", new { name = "copies", dimensions = 384, shardCount = shards })).EnsureSuccessStatusCode();
        var queries = await CopiesBench.LoadClusteredAsync(http, vectors);
        var corpus = IngestBench.LoadCorpus(corpusDir, docs);
        (double Qps, double ChunksPerSecond)? one = null;
        foreach (var count in siloCounts)
        {
            while (doors.Count < count) doors.Add(await cluster.AddApiSiloAsync());
            var moved = Stopwatch.StartNew();
            var placement = await SettledPlacementAsync(http, count);
            var settled = moved.Elapsed.TotalSeconds;
            // The first run on 16 cores measured each count while the last count's work went on (the grains that moved,
            // the text collections' shards linking): its silos' CPU per search rose from 5.4 ms at 2 silos to 9.1 at 3.
            var quiet = await QuietAsync(cluster, count);

            // A warm-up of the same load (new silos compile their hot paths), then the measured window.
            var warm = Stopwatch.StartNew();
            await CopiesBench.SearchLoadAsync(doors, queries, clients, warm, () => warm.Elapsed.TotalSeconds >= 3);
            var cpuBefore = ScaleBench.Cpu(cluster);
            var clock = Stopwatch.StartNew();
            var log = await CopiesBench.SearchLoadAsync(doors, queries, clients, clock, () => clock.Elapsed.TotalSeconds >= seconds);
            var cpu = ScaleBench.Cpu(cluster).Minus(cpuBefore);
            var ms = log.Where(l => !l.Failed).Select(l => l.Ms).ToList();
            var qps = ms.Count / cpu.Seconds;

            var (chunks, ingestSeconds, ingestCpu) = await IngestAsync(cluster, doors, $"text{count}", corpus);
            var chunksPerSecond = chunks / ingestSeconds;
            one ??= (qps, chunksPerSecond);
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "scaling", silos = count, cores_per_silo = coresPerSilo, vectors, shards, placement_settled_s = Math.Round(settled, 1),
                quiet_after_s = Math.Round(quiet.After, 1), quiet_cores_silos = Math.Round(quiet.Cores, 2), search_cpu_ms_per_query = Math.Round(cpu.Silos * 1000 / ms.Count, 2),
                shards_by_silo = placement.GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count()),
                clients, searches = ms.Count, failed = log.Count(l => l.Failed), qps = Math.Round(qps, 1), qps_vs_one = Math.Round(qps / one.Value.Qps, 2),
                p50_ms = Math.Round(ScaleBench.Percentile(ms, 0.5), 2), p99_ms = Math.Round(ScaleBench.Percentile(ms, 0.99), 2),
                search_cores_silos = Math.Round(cpu.Silos / cpu.Seconds, 2), search_cores_client = Math.Round(cpu.Client / cpu.Seconds, 2),
                ingest_docs = corpus.Count, ingest_chunks = chunks, ingest_s = Math.Round(ingestSeconds, 1), chunks_per_s = Math.Round(chunksPerSecond, 1),
                chunks_vs_one = Math.Round(chunksPerSecond / one.Value.ChunksPerSecond, 2),
                ingest_cores_silos = Math.Round(ingestCpu.Silos / ingestCpu.Seconds, 2), ingest_cores_client = Math.Round(ingestCpu.Client / ingestCpu.Seconds, 2),
            }));
        }
        foreach (var door in doors.Skip(1)) door.Dispose();
    }

    // Until the silos together use under 0.1 core each for a whole second (at most 60 s): the seconds waited, the cores then.
    // Not BenchCluster.WaitUntilQuietAsync: its 0.3 core in all is 4 idle silos' floor here (0.30 in the 16-core run).
    private static async Task<(double After, double Cores)> QuietAsync(BenchCluster cluster, int silos)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var before = ScaleBench.Cpu(cluster);
            await Task.Delay(1000);
            var cpu = ScaleBench.Cpu(cluster).Minus(before);
            var cores = cpu.Silos / cpu.Seconds;
            if (cores < 0.1 * silos || waited.Elapsed > TimeSpan.FromSeconds(60)) return (waited.Elapsed.TotalSeconds, cores);
        }
    }

    // The shards' silos once no shard has moved for 3 s (a silo that joined takes the shards whose home it became).
    private static async Task<List<string>> SettledPlacementAsync(HttpClient http, int silos)
    {
        var waited = Stopwatch.StartNew();
        var last = "";
        var same = Stopwatch.StartNew();
        while (true)
        {
            var silosNow = (await http.GetFromJsonAsync<JsonElement>("v1/collections/copies/shards")).EnumerateArray()
                .Select(s => s.GetProperty("silo").GetString() ?? "").ToList();
            var key = string.Join(",", silosNow);
            if (key != last) (last, same) = (key, Stopwatch.StartNew());
            if (same.Elapsed > TimeSpan.FromSeconds(3) && (silosNow.Distinct().Count() >= Math.Min(silos, silosNow.Count) || waited.Elapsed > TimeSpan.FromSeconds(30)))
                return silosNow;
            if (waited.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException("the shards' placement did not settle in 2 minutes");
            await Task.Delay(250);
        }
    }

    // Batches of 50 documents, two in flight a door, each 503 sent again after its Retry-After; then until all are indexed.
    private static async Task<(int Chunks, double Seconds, ScaleBench.CpuSample Cpu)> IngestAsync(BenchCluster cluster, List<HttpClient> doors,
        string collection, List<(string Id, string Text)> corpus)
    {
        (await doors[0].PostAsJsonAsync("v1/collections", new { name = collection })).EnsureSuccessStatusCode();
        var cpuBefore = ScaleBench.Cpu(cluster);
        var sw = Stopwatch.StartNew();
        var batches = corpus.Chunk(50).Select((b, i) => (Door: doors[i % doors.Count], Body: new { documents = b.Select(d => new { id = d.Id, format = "json", text = d.Text }) })).ToList();
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = 2 * doors.Count }, async (batch, ct) =>
        {
            while (true)
            {
                var r = await batch.Door.PostAsJsonAsync($"v1/collections/{collection}/documents", batch.Body, ct);
                var body = await r.Content.ReadFromJsonAsync<JsonElement>(ct);
                if (r.IsSuccessStatusCode && body.GetProperty("rejected").GetInt32() == 0) return;
                await Task.Delay(r.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1), ct); // a refused batch stored nothing: again
            }
        });
        var chunks = await IngestBench.WaitIndexedAsync(doors[0], collection, corpus.Select(d => d.Id));
        return (chunks, sw.Elapsed.TotalSeconds, ScaleBench.Cpu(cluster).Minus(cpuBefore));
    }

    public static Task RunFromArgs(string[] args) => Run(args[1], args[2], args[3],
        args.Length > 4 ? [.. args[4].Split(',').Select(int.Parse)] : [1, 2, 4], args.Length > 5 ? int.Parse(args[5]) : 3,
        args.Length > 6 ? int.Parse(args[6]) : 100_000, args.Length > 7 ? int.Parse(args[7]) : 8, args.Length > 8 ? int.Parse(args[8]) : 2000,
        args.Length > 9 ? int.Parse(args[9]) : 32, args.Length > 10 ? int.Parse(args[10]) : 15);
}
