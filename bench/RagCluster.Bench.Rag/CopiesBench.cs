using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Grains.Interfaces.Documents;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 46, item 4: search throughput and memory with 1, 2 and 3 copies of each shard, on the cluster recipe (the API
/// silo and plain silos as processes, PostgreSQL, Redis). VECTORS random clustered 384-d vectors in SHARDS shards; for
/// each factor (a PUT, then every copy caught up): CLIENTS closed-loop clients search for SECONDS (a fresh query vector
/// each, so no cache answers), with the silos' RSS after a full collection and the machine's busy cores. Then, with 3
/// silos or more, a silo's kill -9 under search load (item 3).
/// </summary>
public static class CopiesBench
{
    private const int Dim = 384;

    public static async Task Run(string binDir, int silos, int vectors, int shards, int clients, int seconds)
    {
        await using var cluster = await BenchCluster.StartAsync(binDir, "", silos);
        var http = cluster.Http;
        (await http.PostAsJsonAsync("v1/collections", new { name = "copies", dimensions = Dim, shardCount = shards })).EnsureSuccessStatusCode();
        var queries = await LoadClusteredAsync(http, vectors);

        for (var factor = 1; factor <= silos; factor++)
        {
            var put = await http.PutAsJsonAsync("v1/collections/copies", new { replicationFactor = factor });
            if (!put.IsSuccessStatusCode) throw new InvalidOperationException($"PUT replicationFactor {factor}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
            var caughtUp = Stopwatch.StartNew();
            var copies = await WaitCaughtUpAsync(http, factor * shards, _ => true);
            var ready = caughtUp.Elapsed.TotalSeconds;
            // Every copy answers once (a first search activates what the hedge would otherwise meet cold).
            for (var i = 0; i < 4 * factor * shards; i++) await SearchAsync(http, queries[i % queries.Length]);
            await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(30));
            ScaleBench.FullGc(cluster);
            var rss = ScaleBench.Rss(cluster);

            var cpuBefore = ScaleBench.Cpu(cluster);
            var until = Stopwatch.StartNew();
            var log = await SearchLoadAsync(http, queries, clients, until, () => until.Elapsed.TotalSeconds >= seconds);
            var cpu = ScaleBench.Cpu(cluster).Minus(cpuBefore);
            var ms = log.Where(l => !l.Failed).Select(l => l.Ms).ToList();
            var failed = log.Count(l => l.Failed);
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "copies", silos, vectors, shards, replication_factor = factor, copies_caught_up_s = Math.Round(ready, 1),
                clients, searches = ms.Count, failed, qps = Math.Round(ms.Count / cpu.Seconds, 1),
                p50_ms = Math.Round(ScaleBench.Percentile(ms, 0.5), 2), p99_ms = Math.Round(ScaleBench.Percentile(ms, 0.99), 2),
                cores_busy = Math.Round(cpu.BusyCores, 2), cores_silos = Math.Round(cpu.Silos / cpu.Seconds, 2), cores_client = Math.Round(cpu.Client / cpu.Seconds, 2),
                silos_rss_mb = Math.Round(rss / 1048576.0, 1),
                copies_by_silo = copies.GroupBy(c => c.GetProperty("silo").GetString()).ToDictionary(g => g.Key!, g => g.Count()),
            }));
        }
        if (silos >= 3) await FailoverAsync(cluster, vectors, shards, queries);
    }

    /// <summary>
    /// <paramref name="vectors"/> random clustered unit vectors into the collection "copies" (batches of 500, 2 in
    /// flight, each 503 sent again), until it counts them all; returns 2,000 query vectors from the same clusters.
    /// </summary>
    internal static async Task<string[]> LoadClusteredAsync(HttpClient http, int vectors)
    {
        var rnd = new Random(42);
        var centres = Enumerable.Range(0, Math.Max(1, vectors / 50)).Select(_ => Gaussian(rnd)).ToArray();
        float[] Sample() { var c = centres[rnd.Next(centres.Length)]; var g = Gaussian(rnd); return Unit([.. c.Zip(g, (a, b) => a + b)]); }
        var load = Stopwatch.StartNew();
        await System.Threading.Tasks.Parallel.ForEachAsync(Enumerable.Range(0, (vectors + 499) / 500).Select(b => Enumerable.Range(b * 500, Math.Min(500, vectors - b * 500))
            .Select(i => new { id = $"v{i}", chunks = new[] { new { vectorBase64 = OwnVectorChunks.ToBase64(Sample()) } } }).ToArray()).ToList(),
            new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (documents, ct) =>
            {
                while (true)
                {
                    var r = await http.PostAsJsonAsync("v1/collections/copies/documents", new { documents }, ct);
                    var body = await r.Content.ReadFromJsonAsync<JsonElement>(ct);
                    if (r.IsSuccessStatusCode && body.GetProperty("rejected").GetInt32() == 0) return;
                    await Task.Delay(1000, ct); // a 503 stored nothing of those documents; send them again
                }
            });
        while ((await http.GetFromJsonAsync<JsonElement>("v1/collections/copies")).GetProperty("documentCount").GetInt32() < vectors) await Task.Delay(500);
        Console.Error.WriteLine($"loaded {vectors} vectors in {load.Elapsed.TotalSeconds:F1} s");
        return Enumerable.Range(0, 2000).Select(_ => OwnVectorChunks.ToBase64(Sample())).ToArray();
    }

    /// <summary>
    /// Item 3: with 2 copies, 8 clients search without pause; 5 s in, a plain silo that holds copies is killed (-9). The
    /// searches of the 30 s after the kill (failed, p50, p99, slowest), and the time until every shard again has its
    /// copies on live silos, caught up.
    /// </summary>
    private static async Task FailoverAsync(BenchCluster cluster, int vectors, int shards, string[] queries)
    {
        var http = cluster.Http;
        const int Factor = 2;
        (await http.PutAsJsonAsync("v1/collections/copies", new { replicationFactor = Factor })).EnsureSuccessStatusCode();
        await WaitCaughtUpAsync(http, Factor * shards, _ => true);
        var apiSilo = (await http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("silo").GetString();
        var held = (await http.GetFromJsonAsync<JsonElement>("v1/collections/copies/shards")).EnumerateArray().Select(c => c.GetProperty("silo").GetString()!).ToList();
        var victim = cluster.Silos.Skip(1).First(p => held.Any(h => h != apiSilo && h.Contains($":{ScaleBench.SiloPort(p)}:")));
        var victimAddress = held.First(h => h.Contains($":{ScaleBench.SiloPort(victim)}:"));

        var clock = Stopwatch.StartNew();
        var stop = false;
        var load = SearchLoadAsync(http, queries, 8, clock, () => Volatile.Read(ref stop));
        await Task.Delay(TimeSpan.FromSeconds(5));
        victim.Kill(entireProcessTree: true);
        var killedAt = clock.Elapsed.TotalSeconds;
        // Full again: every copy listed, none on the dead silo, every follower caught up.
        var replicated = await WaitCaughtUpAsync(http, Factor * shards, copies => copies.All(c => c.GetProperty("silo").GetString() != victimAddress));
        var restored = clock.Elapsed.TotalSeconds - killedAt;
        while (clock.Elapsed.TotalSeconds < killedAt + 30) await Task.Delay(200);
        Volatile.Write(ref stop, true);
        var after = (await load).Where(l => l.At >= killedAt && l.At < killedAt + 30).ToList();
        var ms = after.Where(l => !l.Failed).Select(l => l.Ms).ToList();
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "copies_failover", vectors, shards, replication_factor = Factor, victim = victimAddress,
            searches_in_30_s_after_kill = after.Count, failed = after.Count(l => l.Failed),
            p50_ms = Math.Round(ScaleBench.Percentile(ms, 0.5), 2), p99_ms = Math.Round(ScaleBench.Percentile(ms, 0.99), 2), slowest_ms = Math.Round(ms.DefaultIfEmpty().Max(), 1),
            full_replication_again_s = Math.Round(restored, 1),
            copies_by_silo = replicated.GroupBy(c => c.GetProperty("silo").GetString()).ToDictionary(g => g.Key!, g => g.Count()),
        }));
    }

    /// <summary>
    /// Closed-loop clients until <paramref name="stop"/>: each search's end (on <paramref name="clock"/>), time and
    /// whether it failed. The query vectors go round; ef grows by one each round, so no answer comes from a cache.
    /// </summary>
    internal static Task<List<(double At, double Ms, bool Failed)>> SearchLoadAsync(HttpClient http, string[] queries, int clients, Stopwatch clock, Func<bool> stop) =>
        SearchLoadAsync([http], queries, clients, clock, stop);

    /// <summary>The same over several doors (API silos): client i searches through door i mod N.</summary>
    internal static async Task<List<(double At, double Ms, bool Failed)>> SearchLoadAsync(IReadOnlyList<HttpClient> doors, string[] queries, int clients, Stopwatch clock, Func<bool> stop)
    {
        var log = new List<(double At, double Ms, bool Failed)>();
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var http = doors[c % doors.Count];
            while (!stop())
            {
                var i = Interlocked.Increment(ref next);
                var (sw, failed) = (Stopwatch.StartNew(), false);
                try { await SearchAsync(http, queries[i % queries.Length], i / queries.Length); }
                catch (Exception e) when (e is InvalidOperationException or HttpRequestException or TaskCanceledException) { failed = true; }
                lock (log) log.Add((clock.Elapsed.TotalSeconds, sw.Elapsed.TotalMilliseconds, failed));
            }
        }));
        return log;
    }

    internal static async Task<List<JsonElement>> WaitCaughtUpAsync(HttpClient http, int copiesWanted, Func<List<JsonElement>, bool> also)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var copies = (await http.GetFromJsonAsync<JsonElement>("v1/collections/copies/shards")).EnumerateArray().ToList();
                if (copies.Count >= copiesWanted && also(copies)
                    && !copies.Any(c => c.GetProperty("copy").GetInt32() > 0 && (Lag(c) != 0 || c.GetProperty("vectors").GetInt32() == 0)))
                    return copies;
            }
            catch (HttpRequestException) { } // a 503 while the cluster changes
            if (waited.Elapsed > TimeSpan.FromMinutes(5)) throw new TimeoutException($"{copiesWanted} copies not caught up in 5 minutes");
            await Task.Delay(250);
        }
    }

    // ef varies with the pass over the queries, so a query vector seen before is not answered from a cache.
    internal static async Task SearchAsync(HttpClient http, string vectorBase64, int pass = 0)
    {
        var r = await http.PostAsJsonAsync("v1/collections/copies/search", new { vectorBase64, topK = 10, plan = "vector", ef = 64 + pass });
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"search: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }

    private static long Lag(JsonElement copy) => copy.TryGetProperty("lag", out var lag) && lag.ValueKind == JsonValueKind.Number ? lag.GetInt64() : -1;

    private static float[] Gaussian(Random rnd) =>
        [.. Enumerable.Range(0, Dim).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - rnd.NextDouble())) * Math.Cos(2 * Math.PI * rnd.NextDouble())))];

    private static float[] Unit(float[] v)
    {
        var norm = MathF.Sqrt(v.Sum(x => x * x));
        return [.. v.Select(x => x / norm)];
    }
}
