using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace RagCluster.Bench.Rag;

/// <summary>
/// On a <see cref="BenchCluster"/> with the test model on every silo, measures ingestion (chunks/s, HTTP submit to "indexed"), then /search and /ask QPS and
/// latency percentiles, uncached (every query new) and cached (the same queries again), 16 concurrent clients.
/// </summary>
public static class EndToEndBench
{
    public static async Task Run(string binDir, string modelDir, string corpusDir, int silos, int docs, double seconds)
    {
        await using var cluster = await BenchCluster.StartAsync(binDir, modelDir, silos);
        var http = cluster.Http;
        (await http.PostAsJsonAsync("v1/collections", new { name = "bench" })).EnsureSuccessStatusCode();

        var corpus = File.ReadLines(Path.Combine(corpusDir, "corpus.jsonl")).Take(docs).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var sw = Stopwatch.StartNew();
        await Parallel.ForEachAsync(corpus, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (e, ct) =>
        {
            var r = await http.PostAsJsonAsync("v1/collections/bench/documents", new
            {
                id = e.GetProperty("_id").GetString(), format = "json",
                text = JsonSerializer.Serialize(new { title = e.GetProperty("title").GetString(), text = e.GetProperty("text").GetString() }),
            }, ct);
            r.EnsureSuccessStatusCode();
        });
        var chunks = 0;
        foreach (var e in corpus)
        {
            while (true)
            {
                var s = await http.GetFromJsonAsync<JsonElement>($"v1/collections/bench/documents/{e.GetProperty("_id").GetString()}");
                if (s.GetProperty("status").GetString() != "pending") { chunks += s.GetProperty("chunkCount").GetInt32(); break; }
                await Task.Delay(50);
            }
        }
        var ingestSeconds = sw.Elapsed.TotalSeconds;
        Console.WriteLine(JsonSerializer.Serialize(new { bench = "ingest", silos, documents = corpus.Count, chunks, seconds = ingestSeconds, chunks_per_s = chunks / ingestSeconds }));

        var queries = File.ReadLines(Path.Combine(corpusDir, "queries.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString()!).ToList();
        foreach (var endpoint in new[] { "search", "ask" })
        {
            var offset = endpoint == "search" ? 0 : queries.Count / 2; // fresh queries for each endpoint's uncached run
            var used = await Load(http, endpoint, queries, offset, seconds, silos, "uncached", unique: true);
            await Load(http, endpoint, queries.Skip(offset).Take(Math.Max(1, used)).ToList(), 0, seconds, silos, "cached", unique: false);
        }
    }

    private static async Task<int> Load(HttpClient http, string endpoint, List<string> queries, int offset, double seconds, int silos, string mode, bool unique)
    {
        var latencies = new List<double>();
        var next = -1;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            while (sw.Elapsed.TotalSeconds < seconds)
            {
                var i = Interlocked.Increment(ref next);
                if (unique && offset + i >= queries.Count) break;
                var q = queries[(offset + i) % queries.Count];
                var t = Stopwatch.GetTimestamp();
                var body = endpoint == "search" ? (object)new { query = q, topK = 10 } : new { question = q, topK = 5 };
                var r = await http.PostAsJsonAsync($"v1/collections/bench/{endpoint}", body);
                r.EnsureSuccessStatusCode();
                await r.Content.ReadAsByteArrayAsync();
                var ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                lock (latencies) latencies.Add(ms);
            }
        }));
        var elapsed = sw.Elapsed.TotalSeconds;
        latencies.Sort();
        double P(double p) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)(p * latencies.Count))];
        Console.WriteLine(JsonSerializer.Serialize(new { bench = endpoint, silos, mode, requests = latencies.Count, qps = latencies.Count / elapsed, p50_ms = P(0.50), p95_ms = P(0.95), p99_ms = P(0.99) }));
        return latencies.Count;
    }
}
