using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 34, item 1: how soon a document is acknowledged, black-box over HTTP on the embedded default (one silo,
/// SQLite, no model: BM25 only). First single documents POSTed one after another to an idle collection (latency per
/// request); then a corpus posted one document per request by several clients at once (acknowledged documents/s, and
/// the time until every document reads indexed, from the first POST).
/// </summary>
public static class AckBench
{
    public static async Task Run(string binDir, string corpusDir, int singles, int clients)
    {
        var corpus = IngestBench.LoadCorpus(corpusDir, 0);
        await using var cluster = await BenchCluster.StartAsync(binDir, "", 1);
        var http = cluster.Http;

        (await http.PostAsJsonAsync("v1/collections", new { name = "idle" })).EnsureSuccessStatusCode();
        for (var i = 0; i < 20; i++) await PostAsync(http, "idle", $"warm{i}", corpus[i].Text); // JIT, connections, first writes
        await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(60));
        var single = new List<double>(singles);
        for (var i = 0; i < singles; i++)
        {
            var sw = Stopwatch.StartNew();
            await PostAsync(http, "idle", $"single{i}", corpus[(i + 20) % corpus.Count].Text);
            single.Add(sw.Elapsed.TotalMilliseconds);
            await Task.Delay(20); // idle between requests: nothing else is queued when the next one arrives
        }
        Report("single_post_idle", single, null);

        await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(60));
        (await http.PostAsJsonAsync("v1/collections", new { name = "corpus" })).EnsureSuccessStatusCode();
        var next = -1;
        var latencies = new List<double>[clients];
        var total = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            latencies[c] = [];
            for (int i; (i = Interlocked.Increment(ref next)) < corpus.Count;)
            {
                var sw = Stopwatch.StartNew();
                await PostAsync(http, "corpus", corpus[i].Id, corpus[i].Text);
                latencies[c].Add(sw.Elapsed.TotalMilliseconds);
            }
        }));
        var posted = total.Elapsed.TotalSeconds;
        await WaitIndexedAsync(http, "corpus", corpus.Select(d => d.Id).ToList());
        var indexed = total.Elapsed.TotalSeconds;
        Report("one_document_per_request", latencies.SelectMany(l => l).ToList(), new
        {
            clients, documents = corpus.Count, acknowledged_seconds = posted, acknowledged_docs_per_s = corpus.Count / posted,
            indexed_seconds = indexed, indexed_docs_per_s = corpus.Count / indexed,
        });
    }

    private static async Task PostAsync(HttpClient http, string collection, string id, string text)
    {
        var r = await http.PostAsJsonAsync($"v1/collections/{collection}/documents", new { id, format = "json", text });
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"POST {id}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }

    private static async Task WaitIndexedAsync(HttpClient http, string collection, List<string> ids)
    {
        var pending = ids;
        var deadline = Stopwatch.StartNew();
        while (pending.Count > 0)
        {
            if (deadline.Elapsed > TimeSpan.FromMinutes(20)) throw new TimeoutException($"{pending.Count} documents still pending");
            var left = new List<string>();
            foreach (var window in pending.Chunk(1000))
            {
                var r = await http.PostAsJsonAsync($"v1/collections/{collection}/documents/statuses", new { ids = window });
                r.EnsureSuccessStatusCode();
                foreach (var d in (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("documents").EnumerateArray())
                {
                    var status = d.GetProperty("status").GetString();
                    if (status == "pending") left.Add(d.GetProperty("documentId").GetString()!);
                    else if (status != "indexed") throw new InvalidOperationException($"document {d.GetProperty("documentId")} ended {status}");
                }
            }
            pending = left;
            if (pending.Count > 0) await Task.Delay(100);
        }
    }

    private static void Report(string bench, List<double> ms, object? extra)
    {
        ms.Sort();
        double P(double q) => ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(q * ms.Count) - 1)];
        Console.WriteLine(JsonSerializer.Serialize(new { bench, requests = ms.Count, p50_ms = P(0.50), p95_ms = P(0.95), p99_ms = P(0.99), max_ms = ms[^1], extra }));
    }
}
