using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Grains.Interfaces.Documents;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 82, item 2, through the API of the embedded default: N own vectors (<see cref="AnnData"/>, clustered) in a
/// collection with an access field and a linked keyword. Each document is readable by one fine group of 1,000 (0.1 %
/// each) and one coarse group of 10 (10 % each), carries a keyword whose values hold 0.1, 1, 10, 30 and 50 % of the
/// documents, and a datetime. Readers see 0.1 % (one fine group), 1 % (ten), 10 % (a coarse group, and a hundred fine
/// ones), 30 % and 50 % (coarse groups); the operator filters by the keyword at the same shares, by datetime ranges of
/// 1 % and 10 %, and by a keyword and a range together (about 4 %); a reader of the group "z" (the documents of every
/// tenth centre) asks queries drawn around the other centres (anti-correlated). Q held-out queries each, one at a time:
/// recall@10 against the exact top 10 of what the caller may see, p50/p95 on the server's clock (and the client's),
/// beside the untrimmed search.
/// </summary>
public static class FilteredWalkApiBench
{
    private static readonly DateTime Start = new(2022, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static async Task Run(string binDir, int n, int shards, int queryCount, string[] settings)
    {
        const int dim = 384;
        var at8 = Array.IndexOf(settings, "--quantization");
        var quantization = at8 >= 0 ? settings[at8 + 1] : null;
        if (at8 >= 0) settings = [.. settings[..at8], .. settings[(at8 + 2)..]];
        // --no-links: the same documents with "acl" a plain string[] field (no access field, no graphLinks), to weigh what the
        // links cost in load time and memory; only the untrimmed search is measured.
        var noLinks = settings.Contains("--no-links");
        settings = [.. settings.Where(a => a != "--no-links")];
        var (data, queries, centre, queryCentre) = AnnData.VectorsWithCentres(n, queryCount + 50, dim);
        var rng = new Random(82);
        var (fine, coarse, kind, minutes) = (new int[n], new int[n], new string[n], new int[n]);
        string[] kinds = ["k0.1", "k1", "k10", "k30", "k50"];
        double[] shares = [0.001, 0.01, 0.1, 0.3, 0.5];
        for (var i = 0; i < n; i++)
        {
            (fine[i], coarse[i], minutes[i]) = (rng.Next(1000), rng.Next(10), rng.Next(1_000_000));
            var u = rng.NextDouble();
            kind[i] = "other";
            for (var k = 0; k < kinds.Length; k++) if ((u -= shares[k]) < 0) { kind[i] = kinds[k]; break; }
        }
        string[] Acl(int i) => centre[i] % 10 == 0 ? [$"f{fine[i]}", $"c{coarse[i]}", "z"] : [$"f{fine[i]}", $"c{coarse[i]}"];
        string At(int m) => Start.AddMinutes(m).ToString("yyyy-MM-ddTHH:mm:ssZ");

        await using var cluster = await BenchCluster.StartAsync(binDir, "", 1, settings);
        var op = cluster.Http;
        (await op.PostAsJsonAsync("v1/collections", noLinks
            ? new { name = "walks", dimensions = dim, shardCount = shards, quantization, accessField = (string?)null, fields = (object)new { kind = "string", at = "datetime", acl = "string[]" }, graphLinks = Array.Empty<string>() }
            : new { name = "walks", dimensions = dim, shardCount = shards, quantization, accessField = (string?)"acl", fields = (object)new { kind = "string", at = "datetime" }, graphLinks = new[] { "kind" } }))
            .EnsureSuccessStatusCode();
        await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(30));
        ScaleBench.FullGc(cluster);
        var rssBefore = ScaleBench.Rss(cluster);
        var sw = Stopwatch.StartNew();
        await FilteredApiBench.LoadAsync(op, n, i => new
        {
            id = $"v{i}",
            tags = new { acl = Acl(i), kind = kind[i], at = At(minutes[i]) },
            chunks = new[] { new { vectorBase64 = OwnVectorChunks.ToBase64(data.AsSpan(i * dim, dim)) } },
        }, "walks");
        var loaded = sw.Elapsed.TotalSeconds;
        // Memory once the shards have snapshotted and the silo is quiet, after a full collection: what the vectors, graphs
        // and tag indexes hold, not the load's transient buffers.
        await cluster.WaitForSnapshotsAsync("walks");
        ScaleBench.FullGc(cluster);
        var rssPerVector = (ScaleBench.Rss(cluster) - rssBefore) / (double)n;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "filtered-walks-api-load", vectors = n, shards, quantization, links = !noLinks, seconds = loaded, per_second = n / loaded,
            rss_bytes_per_vector = Math.Round(rssPerVector),
        }));

        async Task<HttpClient> Reader(IEnumerable<string> groups)
        {
            var key = await (await op.PostAsJsonAsync("v1/admin/keys", new { role = "reader", groups })).Content.ReadFromJsonAsync<JsonElement>();
            var http = new HttpClient { BaseAddress = op.BaseAddress, Timeout = op.Timeout };
            http.DefaultRequestHeaders.Add("X-Api-Key", key.GetProperty("key").GetString());
            return http;
        }
        var cases = new List<(string Name, HttpClient Http, string? Filter, Func<int, bool> Sees, bool AntiOnly)> { ("untrimmed", op, null, _ => true, false) };
        if (!noLinks)
        {
            cases.AddRange(
            [
                ("reader 0.1 % (1 fine group)", await Reader(["f0"]), null, i => fine[i] == 0, false),
                ("reader 1 % (10 fine groups)", await Reader(Enumerable.Range(0, 10).Select(g => $"f{g}")), null, i => fine[i] < 10, false),
                ("reader 10 % (1 coarse group)", await Reader(["c0"]), null, i => coarse[i] == 0, false),
                ("reader 10 % (100 fine groups)", await Reader(Enumerable.Range(0, 100).Select(g => $"f{g}")), null, i => fine[i] < 100, false),
                ("reader 30 % (3 coarse groups)", await Reader(["c0", "c1", "c2"]), null, i => coarse[i] < 3, false),
                ("reader 50 % (5 coarse groups)", await Reader(Enumerable.Range(0, 5).Select(g => $"c{g}")), null, i => coarse[i] < 5, false),
                ("reader of z, anti-correlated queries", await Reader(["z"]), null, i => centre[i] % 10 == 0, true),
            ]);
            foreach (var k in kinds) cases.Add(($"keyword {k}", op, $$"""{"kind":"{{k}}"}""", i => kind[i] == k, false));
            cases.Add(("datetime range 1 %", op, $$$"""{"at":{"$gte":"{{{At(0)}}}","$lt":"{{{At(10_000)}}}"}}""", i => minutes[i] < 10_000, false));
            cases.Add(("datetime range 10 %", op, $$$"""{"at":{"$gte":"{{{At(0)}}}","$lt":"{{{At(100_000)}}}"}}""", i => minutes[i] < 100_000, false));
            cases.Add(("keyword k10 and range 40 % (4 %)", op, $$$"""{"kind":"k10","at":{"$lt":"{{{At(400_000)}}}"}}""", i => kind[i] == "k10" && minutes[i] < 400_000, false));
        }

        // Warm: code paths and connections, with queries not measured (answers are cached by query and groups).
        foreach (var c in cases.DistinctBy(c => c.Http))
            for (var w = 0; w < 25; w++) await FilteredApiBench.SearchAsync(c.Http, queries.AsSpan((queryCount + w) * dim, dim).ToArray(), null, null, "walks");
        double? untrimmed = null;
        foreach (var (name, http, filter, sees, antiOnly) in cases)
        {
            var visible = Enumerable.Range(0, n).Where(sees).ToArray();
            // Anti-correlated: only the queries drawn around a centre the group holds nothing of.
            var asked = Enumerable.Range(0, queryCount).Where(q => !antiOnly || queryCentre[q] % 10 != 0).ToArray();
            var qs = asked.SelectMany(q => queries.AsSpan(q * dim, dim).ToArray()).ToArray();
            var (recall, client, server) = await FilteredApiBench.MeasureAsync(http, data, qs, dim, asked.Length, visible, filter, null, "walks");
            var p50 = FilteredApiBench.Percentile(server, 0.5);
            untrimmed ??= p50;
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "filtered-walks-api", caller = name, vectors = n, shards, quantization, visible = visible.Length, share = visible.Length / (double)n,
                queries = asked.Length, recall_at_10 = recall, server_p50_ms = p50, server_p95_ms = FilteredApiBench.Percentile(server, 0.95),
                client_p50_ms = FilteredApiBench.Percentile(client, 0.5), p50_vs_untrimmed = Math.Round(p50 / untrimmed.Value, 2),
            }));
        }
        foreach (var http in cases.Select(c => c.Http).Distinct().Where(h => h != op)) http.Dispose();
    }
}
