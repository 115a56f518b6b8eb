using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Numerics.Tensors;
using System.Text.Json;
using RagCluster.Grains.Interfaces.Documents;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 58, item 3: filtered search through the API of the embedded default. N own vectors of 384 dimensions (around
/// N/50 random centres, as ann_data.py makes them), each with a random datetime ("at", four years), an integer ("n",
/// 0..999,999) and three of 30 groups ("groups"); filters that match about 0.1 %, 1 %, 10 % and 50 % of them (a range,
/// an $or of two ranges, a datetime range, a $not of $containsAny), each searched with Q held-out query vectors: recall@10
/// against the exact filtered top 10 (brute force here) and p50/p95 latency, client side and as the server measured it,
/// beside the same queries unfiltered.
/// </summary>
public static class FilteredApiBench
{
    private static readonly DateTime Start = new(2021, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static async Task Run(string binDir, int n, int shards, int queryCount, int? ef, string[] settings)
    {
        const int dim = 384;
        // "--quantization int8" picks the collection's encoding; the other pairs are the silo's settings.
        var at8 = Array.IndexOf(settings, "--quantization");
        var quantization = at8 >= 0 ? settings[at8 + 1] : null;
        if (at8 >= 0) settings = [.. settings[..at8], .. settings[(at8 + 2)..]];
        var (data, queries) = AnnData.Vectors(n, queryCount + 50, dim);
        var rng = new Random(58);
        var at = new DateTime[n];
        var number = new int[n];
        var groups = new string[n][];
        for (var i = 0; i < n; i++)
        {
            at[i] = Start.AddMinutes(rng.Next(0, 4 * 365 * 24 * 60));
            number[i] = rng.Next(0, 1_000_000);
            groups[i] = Enumerable.Range(0, 30).OrderBy(_ => rng.Next()).Take(3).Select(g => $"g{g}").ToArray();
        }
        var tenth = Start.AddDays(4 * 365 * 0.45);
        string[] half = ["g0", "g1", "g2", "g3", "g4", "g5"];
        var filters = new (string Name, string Json, Func<int, bool> Matches)[]
        {
            ("0.1 %: n < 1000", """{"n":{"$lt":1000}}""", i => number[i] < 1000),
            ("1 %: $or of two ranges of n", """{"$or":[{"n":{"$lt":5000}},{"n":{"$gte":995000}}]}""", i => number[i] < 5000 || number[i] >= 995_000),
            ("10 %: a datetime range", "{\"at\":{\"$gte\":\"" + tenth.ToString("yyyy-MM-ddTHH:mm:ssZ") + "\",\"$lt\":\"" + tenth.AddDays(4 * 365 * 0.1).ToString("yyyy-MM-ddTHH:mm:ssZ") + "\"}}",
                i => at[i] >= tenth && at[i] < tenth.AddDays(4 * 365 * 0.1)),
            ("50 %: $not $containsAny of 6 groups", """{"$not":{"groups":{"$containsAny":["g0","g1","g2","g3","g4","g5"]}}}""", i => !groups[i].Any(half.Contains)),
        };

        await using var cluster = await BenchCluster.StartAsync(binDir, "", 1, settings);
        var http = cluster.Http;
        (await http.PostAsJsonAsync("v1/collections", new { name = "filtered", dimensions = dim, shardCount = shards, quantization, fields = new { at = "datetime", n = "integer", groups = "string[]" } }))
            .EnsureSuccessStatusCode();
        var sw = Stopwatch.StartNew();
        await LoadAsync(http, n, i => new
        {
            id = $"v{i}",
            tags = new { at = at[i].ToString("yyyy-MM-ddTHH:mm:ssZ"), n = number[i], groups = groups[i] },
            chunks = new[] { new { vectorBase64 = OwnVectorChunks.ToBase64(data.AsSpan(i * dim, dim)) } },
        });
        Console.Error.WriteLine($"loaded {n} in {sw.Elapsed.TotalSeconds:F0} s");
        await cluster.WaitUntilQuietAsync(TimeSpan.FromMinutes(2));

        // Warm: the shards' code paths and the connection, with queries not measured (answers are cached by query).
        for (var w = 0; w < 50; w++) await SearchAsync(http, queries.AsSpan((queryCount + w) * dim, dim).ToArray(), w % 2 == 0 ? null : filters[w % 4].Json, ef);

        var rows = new List<object>();
        foreach (var (name, json, matches) in filters.Prepend(("unfiltered", "", _ => true)))
        {
            var allowed = Enumerable.Range(0, n).Where(matches).ToArray();
            var (recall, client, server) = await MeasureAsync(http, data, queries, dim, queryCount, allowed, json.Length == 0 ? null : json, ef, "filtered");
            var row = new
            {
                bench = "filtered-api", filter = name, vectors = n, shards, matching = allowed.Length, share = allowed.Length / (double)n, queries = queryCount,
                recall_at_10 = recall, p50_ms = Percentile(client, 0.5), p95_ms = Percentile(client, 0.95),
                server_p50_ms = Percentile(server, 0.5), server_p95_ms = Percentile(server, 0.95),
            };
            rows.Add(row);
            Console.WriteLine(JsonSerializer.Serialize(row));
        }
    }

    /// <summary>
    /// Each of the first <paramref name="queryCount"/> queries searched once, topK 10: recall@10 against the exact top 10
    /// of <paramref name="allowed"/> (brute force), and the client's and the server's milliseconds. A hit outside
    /// <paramref name="allowed"/> fails the run: the filter (or the caller's access) let through what it must not.
    /// </summary>
    internal static async Task<(double Recall, List<double> Client, List<double> Server)> MeasureAsync(HttpClient http, float[] data, float[] queries, int dim,
        int queryCount, int[] allowed, string? filter, int? ef, string collection)
    {
        var passing = allowed.ToHashSet();
        var (hits, client, server) = (0, new List<double>(), new List<double>());
        for (var q = 0; q < queryCount; q++)
        {
            var query = queries.AsSpan(q * dim, dim).ToArray();
            var truth = allowed.Select(i => (i, s: TensorPrimitives.Dot(query, data.AsSpan(i * dim, dim)))).OrderByDescending(x => x.s).Take(10).Select(x => $"v{x.i}").ToHashSet();
            var t = Stopwatch.StartNew();
            var reply = await SearchAsync(http, query, filter, ef, collection);
            client.Add(t.Elapsed.TotalMilliseconds);
            server.Add(reply.GetProperty("elapsedMs").GetDouble());
            var ids = reply.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("documentId").GetString()!).ToList();
            if (ids.Any(id => !passing.Contains(int.Parse(id.AsSpan(1))))) throw new InvalidOperationException($"query {q}: a hit the filter or the caller's access excludes came back");
            hits += ids.Count(truth.Contains);
        }
        return (hits / (queryCount * 10.0), client, server);
    }

    internal static async Task<JsonElement> SearchAsync(HttpClient http, float[] vector, string? filter, int? ef, string collection = "filtered")
    {
        var body = $$"""{"vectorBase64":"{{OwnVectorChunks.ToBase64(vector)}}","topK":10,"plan":"vector"{{(ef is { } e ? $",\"ef\":{e}" : "")}}{{(filter is null ? "" : ",\"filter\":" + filter)}}}""";
        var response = await http.PostAsync($"v1/collections/{collection}/search", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return response.StatusCode == HttpStatusCode.OK ? json : throw new InvalidOperationException($"{(int)response.StatusCode}: {json}");
    }

    // Batches of 500, 4 in flight; a document refused with 503 is sent again after Retry-After.
    internal static async Task LoadAsync(HttpClient http, int n, Func<int, object> document, string collection = "filtered")
    {
        var pending = new Queue<int[]>(Enumerable.Range(0, (n + 499) / 500).Select(b => Enumerable.Range(b * 500, Math.Min(500, n - b * 500)).ToArray()));
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (true)
            {
                int[] ids;
                lock (pending) if (!pending.TryDequeue(out ids!)) return;
                var response = await http.PostAsJsonAsync($"v1/collections/{collection}/documents", new { documents = ids.Select(document) });
                var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
                if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests) { await Task.Delay(wait); lock (pending) pending.Enqueue(ids); continue; }
                if (response.StatusCode != HttpStatusCode.Accepted) throw new InvalidOperationException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                var again = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("documents").EnumerateArray()
                    .Select((d, k) => (d, k)).Where(x => x.d.GetProperty("status").GetString() == "rejected").Select(x => ids[x.k]).ToArray();
                if (again.Length == 0) continue;
                await Task.Delay(wait);
                lock (pending) pending.Enqueue(again);
            }
        }));
        var settle = Stopwatch.StartNew();
        while ((await http.GetFromJsonAsync<JsonElement>($"v1/collections/{collection}/shards")).EnumerateArray().Sum(s => s.GetProperty("chunks").GetInt32()) < n)
        {
            if (settle.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException("the shards did not hold every vector within 10 minutes");
            await Task.Delay(1000);
        }
    }

    internal static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return Math.Round(sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(p * sorted.Count))], 2);
    }
}
