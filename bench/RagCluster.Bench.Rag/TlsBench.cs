using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 60, item 3: what mutual TLS between silos costs. The cluster recipe (the API silo and SILOS-1 plain silos,
/// PostgreSQL, Redis, no model) in plain text and then with Silo:Tls on every silo, ROUNDS times each in turn: VECTORS
/// own 384-d vectors loaded through the API (vectors/s), then CLIENTS closed-loop clients search for SECONDS (p50, p99).
/// The API silo's query plan fans out to shards on every silo, so each search crosses silo connections.
/// </summary>
public static class TlsBench
{
    public static async Task Run(string binDir, int silos, int vectors, int shards, int clients, int seconds, int rounds)
    {
        var dir = Directory.CreateTempSubdirectory("rc-tls-bench").FullName;
        var authority = TestCertificates.NewAuthority("bench-ca");
        var tlsArgs = TestCertificates.SiloArgs(authority.Write(authority.Issue("bench-silo"), dir));
        try
        {
            for (var round = 0; round < rounds; round++)
                foreach (var tls in new[] { false, true })
                    await RunOne(binDir, silos, vectors, shards, clients, seconds, tls ? tlsArgs : [], round);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static async Task RunOne(string binDir, int silos, int vectors, int shards, int clients, int seconds, string[] extra, int round)
    {
        await using var cluster = await BenchCluster.StartAsync(binDir, "", silos, extra);
        var http = cluster.Http;
        (await http.PostAsJsonAsync("v1/collections", new { name = "copies", dimensions = 384, shardCount = shards })).EnsureSuccessStatusCode();
        var load = Stopwatch.StartNew();
        var queries = await CopiesBench.LoadClusteredAsync(http, vectors);
        var loadSeconds = load.Elapsed.TotalSeconds;
        var shardSilos = (await http.GetFromJsonAsync<JsonElement>("v1/collections/copies/shards")).EnumerateArray()
            .Select(s => s.GetProperty("silo").GetString()).Distinct().Count();
        for (var i = 0; i < 4 * shards; i++) await CopiesBench.SearchAsync(http, queries[i % queries.Length]);
        await cluster.WaitForSnapshotsAsync("copies");

        var clock = Stopwatch.StartNew();
        var log = await CopiesBench.SearchLoadAsync(http, queries, clients, clock, () => clock.Elapsed.TotalSeconds >= seconds);
        var ms = log.Where(l => !l.Failed).Select(l => l.Ms).ToList();
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "tls", tls = extra.Length > 0, round, silos, shards, shard_silos = shardSilos, vectors,
            bulk_load_s = Math.Round(loadSeconds, 1), bulk_load_vectors_per_s = Math.Round(vectors / loadSeconds),
            clients, searches = ms.Count, failed = log.Count(l => l.Failed), qps = Math.Round(ms.Count / clock.Elapsed.TotalSeconds, 1),
            p50_ms = Math.Round(ScaleBench.Percentile(ms, 0.5), 2), p99_ms = Math.Round(ScaleBench.Percentile(ms, 0.99), 2),
        }));
    }
}
