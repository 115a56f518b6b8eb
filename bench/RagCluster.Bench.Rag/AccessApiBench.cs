using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Grains.Interfaces.Documents;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 72, item 1: document-level access through the API of the embedded default. N own vectors of 384 dimensions
/// (as <see cref="FilteredApiBench"/> makes them) in a collection with an access field, each document readable by one
/// of 100 groups; a reader key of one group sees 1 % of them, one of ten groups 10 %. Each key searches Q held-out
/// query vectors: recall@10 against the exact top 10 of the documents it may see (brute force here), p50/p95 on the
/// client's clock and the server's, beside the same queries by the operator key, which sees every document untrimmed.
/// </summary>
public static class AccessApiBench
{
    public static async Task Run(string binDir, int n, int shards, int queryCount, string[] settings)
    {
        const int dim = 384;
        var (data, queries) = AnnData.Vectors(n, queryCount + 50, dim);
        var rng = new Random(72);
        var group = Enumerable.Range(0, n).Select(_ => rng.Next(100)).ToArray();

        await using var cluster = await BenchCluster.StartAsync(binDir, "", 1, settings);
        var op = cluster.Http;
        (await op.PostAsJsonAsync("v1/collections", new { name = "access", dimensions = dim, shardCount = shards, accessField = "acl" })).EnsureSuccessStatusCode();
        var sw = Stopwatch.StartNew();
        await FilteredApiBench.LoadAsync(op, n, i => new
        {
            id = $"v{i}",
            tags = new { acl = new[] { $"g{group[i]}" } },
            chunks = new[] { new { vectorBase64 = OwnVectorChunks.ToBase64(data.AsSpan(i * dim, dim)) } },
        }, "access");
        Console.Error.WriteLine($"loaded {n} in {sw.Elapsed.TotalSeconds:F0} s");
        await cluster.WaitUntilQuietAsync(TimeSpan.FromMinutes(2));

        var callers = new List<(string Name, HttpClient Http, Func<int, bool> Sees)> { ("operator: every document, untrimmed", op, _ => true) };
        foreach (var (name, groups) in new[] { ("1 %: a reader of 1 group of 100", 1), ("10 %: a reader of 10 groups of 100", 10) })
        {
            var key = await (await op.PostAsJsonAsync("v1/admin/keys", new { role = "reader", groups = Enumerable.Range(0, groups).Select(g => $"g{g}") })).Content.ReadFromJsonAsync<JsonElement>();
            var http = new HttpClient { BaseAddress = op.BaseAddress, Timeout = op.Timeout };
            http.DefaultRequestHeaders.Add("X-Api-Key", key.GetProperty("key").GetString());
            callers.Add((name, http, i => group[i] < groups));
        }
        // Warm: the shards' code paths and the connections, with queries not measured (answers are cached by query and groups).
        foreach (var (_, http, _) in callers)
            for (var w = 0; w < 25; w++) await FilteredApiBench.SearchAsync(http, queries.AsSpan((queryCount + w) * dim, dim).ToArray(), null, null, "access");

        foreach (var (name, http, sees) in callers)
        {
            var visible = Enumerable.Range(0, n).Where(sees).ToArray();
            var (recall, client, server) = await FilteredApiBench.MeasureAsync(http, data, queries, dim, queryCount, visible, null, null, "access");
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "access-api", caller = name, vectors = n, shards, visible = visible.Length, queries = queryCount, recall_at_10 = recall,
                p50_ms = FilteredApiBench.Percentile(client, 0.5), p95_ms = FilteredApiBench.Percentile(client, 0.95),
                server_p50_ms = FilteredApiBench.Percentile(server, 0.5), server_p95_ms = FilteredApiBench.Percentile(server, 0.95),
            }));
            if (http != op) http.Dispose();
        }
    }
}
