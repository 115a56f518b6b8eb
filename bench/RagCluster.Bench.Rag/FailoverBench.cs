using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 60, item 1: on the cluster recipe (the API silo and 3 plain silos as processes, PostgreSQL, Redis, no model),
/// VECTORS own vectors in SHARDS shards with 2 copies each; CLIENTS closed-loop clients search without pause, and each
/// plain silo in turn is killed (-9) 5 s into a round, searched on for 30 s, then started again and every copy caught
/// up before the next. Per kill: the searches running at it or begun in the 30 s after it, failed, p50, p99, slowest.
/// </summary>
public static class FailoverBench
{
    private static readonly TimeSpan AfterKill = TimeSpan.FromSeconds(30);

    public static async Task Run(string binDir, int vectors, int shards, int clients, string quantization)
    {
        const int Silos = 4, Factor = 2;
        // Slow searches with their steps, and shards' loads, in the logs (RAGCLUSTER_BENCH_LOGS keeps them).
        await using var cluster = await BenchCluster.StartAsync(binDir, "", Silos, "--Query:SlowSearchMs", "250", "--Logging:LogLevel:RagCluster.Grains.Indexing", "Information");
        var http = cluster.Http;
        var joining = Stopwatch.StartNew(); // each copy of a shard needs a silo of its own: all 4 active first
        while ((await http.GetFromJsonAsync<JsonElement>("v1/cluster")).GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Active") < Silos)
        {
            if (joining.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException($"{Silos} silos not active in 2 minutes");
            await Task.Delay(500);
        }
        var created = await http.PostAsJsonAsync("v1/collections", new { name = "copies", dimensions = 384, shardCount = shards, quantization, replicationFactor = Factor });
        if (!created.IsSuccessStatusCode) throw new InvalidOperationException($"creating the collection: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
        var queries = await CopiesBench.LoadClusteredAsync(http, vectors);
        await CopiesBench.WaitCaughtUpAsync(http, Factor * shards, _ => true);
        for (var i = 0; i < 4 * Factor * shards; i++) await CopiesBench.SearchAsync(http, queries[i % queries.Length]); // every copy answers once

        for (var victim = 1; victim < Silos; victim++)
        {
            var clock = Stopwatch.StartNew();
            var stop = false;
            var load = CopiesBench.SearchLoadAsync(http, queries, clients, clock, () => Volatile.Read(ref stop));
            await Task.Delay(TimeSpan.FromSeconds(5));
            cluster.KillSilo(victim);
            Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss.fff} killed silo {victim}");
            var killedAt = clock.Elapsed.TotalSeconds;
            while (clock.Elapsed.TotalSeconds < killedAt + AfterKill.TotalSeconds) await Task.Delay(200);
            Volatile.Write(ref stop, true);
            // At: when a search ended; it counts if it was running at the kill or began in the window after it.
            var after = (await load).Where(l => l.At >= killedAt && l.At - l.Ms / 1000 < killedAt + AfterKill.TotalSeconds).ToList();
            var ms = after.Select(l => l.Ms).ToList();
            var restart = Stopwatch.StartNew();
            await cluster.StartSiloAgainAsync(victim);
            await CopiesBench.WaitCaughtUpAsync(http, Factor * shards, _ => true);
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "failover", vectors, shards, quantization, replication_factor = Factor, clients, killed = $"silo {victim} of {Silos - 1}",
                searches_in_30_s_after_kill = after.Count, failed = after.Count(l => l.Failed),
                p50_ms = Math.Round(ScaleBench.Percentile(ms, 0.5), 2), p99_ms = Math.Round(ScaleBench.Percentile(ms, 0.99), 2),
                slowest_ms = Math.Round(ms.DefaultIfEmpty().Max(), 1), restarted_and_caught_up_s = Math.Round(restart.Elapsed.TotalSeconds, 1),
            }));
        }
    }
}
