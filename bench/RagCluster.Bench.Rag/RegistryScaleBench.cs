using RagCluster.Grains.Interfaces.Documents;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 22, item 1: search latency as a collection grows, through the API of the embedded default (one silo,
/// SQLite, no model). The collection brings its own 16-dimensional vectors (one chunk a document, so loading is cheap
/// and every document is registered), and at each size in SIZES it answers 1,000 searches with random query vectors
/// (unique, so none comes from the cache), one at a time. (It ran 300 before 3a4bebe: a p99 of 300 is the third-worst.) The query path asks the collection for its version every
/// time, so before item 1 (the whole sorted id list in every answer) this grew with the documents.
/// </summary>
public static class RegistryScaleBench
{
    private const int Dimensions = 16, Searches = 1000, Batch = 1000, Parallel = 4;

    public static async Task Run(string binDir, int[] sizes)
    {
        await using var cluster = await BenchCluster.StartAsync(binDir, "", 1);
        var http = cluster.Http;
        (await http.PostAsJsonAsync("v1/collections", new { name = "scale", dimensions = Dimensions, shardCount = 4 })).EnsureSuccessStatusCode();
        var random = new Random(22);
        var loaded = 0;
        foreach (var size in sizes)
        {
            var load = Stopwatch.StartNew();
            var from = loaded;
            var refused = 0L;
            // The silo's heap and grain count while it loads, read from /metrics every 5 s: what waiting documents cost.
            double peakHeap = 0, peakActivations = 0;
            using var loading = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!loading.IsCancellationRequested)
                {
                    var text = await http.GetStringAsync("metrics");
                    peakHeap = Math.Max(peakHeap, ScaleBench.Metric(text, "dotnet_gc_last_collection_heap_size_bytes"));
                    peakActivations = Math.Max(peakActivations, ScaleBench.Metric(text, "orleans_catalog_activations"));
                    await Task.Delay(5000, loading.Token).ContinueWith(_ => { });
                }
            });
            await System.Threading.Tasks.Parallel.ForEachAsync(Enumerable.Range(0, (size - from + Batch - 1) / Batch), new ParallelOptions { MaxDegreeOfParallelism = Parallel }, async (b, ct) =>
            {
                var first = from + b * Batch;
                var documents = Enumerable.Range(first, Math.Min(Batch, size - first)).Select(i => new
                {
                    id = $"d{i:D8}", chunks = new[] { new { vectorBase64 = OwnVectorChunks.ToBase64(RandomVector(new Random(i))) } },
                }).ToArray();
                // Documents refused with a 503 (a full indexing backlog, a busy store) stored nothing: those are sent
                // again after a second, for as long as each send stores some.
                for (var attempt = 0; documents.Length > 0; attempt++)
                {
                    var r = await http.PostAsJsonAsync("v1/collections/scale/documents", new { documents }, ct);
                    var body = await r.Content.ReadFromJsonAsync<JsonElement>(ct);
                    if (r.IsSuccessStatusCode && body.GetProperty("rejected").GetInt32() == 0) break;
                    var answers = r.IsSuccessStatusCode ? body.GetProperty("documents").EnumerateArray().ToArray() : [];
                    if (answers.Any(a => a.GetProperty("status").GetString() == "rejected" && a.GetProperty("error").GetProperty("status").GetInt32() != 503))
                        throw new InvalidOperationException($"batch {b}: {body}");
                    var again = answers.Length == 0 ? documents : documents.Where((_, k) => answers[k].GetProperty("status").GetString() == "rejected").ToArray();
                    if (again.Length < documents.Length) attempt = 0;
                    else if (attempt > 20) throw new InvalidOperationException($"batch {b}: {body}");
                    Interlocked.Add(ref refused, again.Length);
                    documents = again;
                    await Task.Delay(1000, ct);
                }
            });
            loaded = size;
            // Loaded means registered: the collection counts every document.
            while ((await http.GetFromJsonAsync<JsonElement>("v1/collections/scale")).GetProperty("documentCount").GetInt32() < size) await Task.Delay(500);
            var loadSeconds = load.Elapsed.TotalSeconds;
            loading.Cancel();
            await sampler;
            await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(60));

            var ms = new List<double>();
            var info = new List<double>();
            var before = await http.GetStringAsync("metrics");
            var window = Stopwatch.StartNew();
            for (var i = 0; i < Searches; i++)
            {
                var sw = Stopwatch.StartNew();
                (await http.GetAsync("v1/collections/scale")).EnsureSuccessStatusCode();
                info.Add(sw.Elapsed.TotalMilliseconds);
                sw.Restart();
                var r = await http.PostAsJsonAsync("v1/collections/scale/search", new { vector = RandomVector(random), topK = 10 });
                r.EnsureSuccessStatusCode();
                ms.Add(sw.Elapsed.TotalMilliseconds);
            }
            var seconds = window.Elapsed.TotalSeconds;
            var after = await http.GetStringAsync("metrics");
            double Grown(string name) => ScaleBench.Metric(after, name) - ScaleBench.Metric(before, name);
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "registry_scale", documents = size, load_seconds = loadSeconds, docs_per_s = (size - from) / loadSeconds,
                load_refused_sends = refused, load_peak_heap_mb = Math.Round(peakHeap / 1048576), load_peak_activations = peakActivations,
                search_p50_ms = Percentile(ms, 0.5), search_p95_ms = Percentile(ms, 0.95), search_p99_ms = Percentile(ms, 0.99),
                collection_get_p50_ms = Percentile(info, 0.5), collection_get_p99_ms = Percentile(info, 0.99),
                // What else the silo did in the measured window: garbage collections (their pauses stop every
                // thread), grain deactivations, and how many grains and how much heap it held.
                window_gc_collections = Grown("dotnet_gc_collections_total"),
                window_gc_pause_share = Math.Round(Grown("dotnet_gc_pause_time_seconds_total") / seconds, 4),
                window_deactivations = Grown("orleans_catalog_activation_shutdown_total"),
                activations = ScaleBench.Metric(after, "orleans_catalog_activations"),
                heap_mb = Math.Round(ScaleBench.Metric(after, "dotnet_gc_last_collection_heap_size_bytes") / 1048576, 1),
            }));
        }
    }

    private static float[] RandomVector(Random random) => Enumerable.Range(0, Dimensions).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return Math.Round(sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))], 2);
    }
}
