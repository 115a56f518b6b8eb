using System.Diagnostics;
using System.Text.Json;
using RagCluster.Grains.Vectors;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Issue 82 on the index alone (one shard's graph, one thread searching): N clustered vectors (<see cref="AnnData"/>),
/// each holding the value "sX" with probability X for X in the shares asked (an access group that many documents name),
/// linked per value (<see cref="HnswIndex.Join(int, string)"/>). For each share, Q held-out queries filtered to the value:
/// the exact scan of its members, the ACORN-1 two-hop walk, the walk of the value's own graph, and the old walk that
/// skips refused nodes, beside the unfiltered walk; recall@10 against brute force over the members, p50 and mean ms.
/// Also the build with and without the links, and the graph's bytes.
/// </summary>
public static class FilteredLinksBench
{
    public static void Run(int n, int queryCount, double[] shares, int[] efs, VectorEncoding encoding)
    {
        const int dim = 384;
        var (data, queries) = AnnData.Vectors(n, queryCount, dim);
        var rows = Enumerable.Range(0, n).Select(i => data.AsSpan(i * dim, dim).ToArray()).ToList();
        var rng = new Random(82);
        var members = shares.Select(s => Enumerable.Range(0, n).Where(_ => rng.NextDouble() < s).ToArray()).ToArray();
        var threads = Environment.ProcessorCount;
        var sw = Stopwatch.StartNew();
        using var index = new HnswIndex(dim, new HnswOptions { M = 16, EfConstruction = 200 }, n, encoding);
        index.AddRange(rows, threads);
        var build = sw.Elapsed.TotalSeconds;
        var bytes = index.MemoryBytes;
        sw.Restart();
        for (var s = 0; s < shares.Length; s++)
            foreach (var node in members[s]) index.Join(node, $"s{shares[s]}");
        index.LinkPending(threads);
        var links = sw.Elapsed.TotalSeconds;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "filtered-links-build", vectors = n, encoding = encoding.ToString(), threads, build_s = build, links_s = links,
            ratio = (build + links) / build, memberships = index.ValueMembers, bytes_before = bytes, bytes_after = index.MemoryBytes,
            bytes_per_vector_before = bytes / (double)n, bytes_per_vector_after = index.MemoryBytes / (double)n,
        }));

        var unit = rows.Select(r => { var u = r.ToArray(); HnswIndex.Normalize(u); return u; }).ToArray();
        var unfiltered = Time(queryCount, i => index.Search(queries.AsSpan(i * dim, dim), 10, efs[0]), null, queries, dim);
        Console.WriteLine(JsonSerializer.Serialize(new { bench = "filtered-links", share = 1.0, method = "unfiltered walk", ef = efs[0], p50_ms = unfiltered.P50, mean_ms = unfiltered.Mean }));
        for (var s = 0; s < shares.Length; s++)
        {
            var kept = new bool[n];
            foreach (var m in members[s]) kept[m] = true;
            var value = index.ValueId($"s{shares[s]}");
            var truth = new HashSet<int>[queryCount];
            for (var i = 0; i < queryCount; i++)
            {
                var q = queries.AsSpan(i * dim, dim).ToArray();
                HnswIndex.Normalize(q);
                truth[i] = members[s].OrderByDescending(m => System.Numerics.Tensors.TensorPrimitives.Dot(q, unit[m])).Take(10).ToHashSet();
            }
            // The best a value's graph could do: a graph of its members alone, built as the main one is (node ids mapped back).
            using var alone = new HnswIndex(dim, new HnswOptions { M = 16, EfConstruction = 200 }, members[s].Length, encoding);
            alone.AddRange(members[s].Select(m => rows[m]).ToList(), threads);
            var methods = efs.SelectMany(ef => new (string Name, int Ef, Func<int, List<(int Node, float Distance)>> Search)[]
            {
                ("a graph of the members alone", ef, i => alone.Search(queries.AsSpan(i * dim, dim), 10, ef).Select(r => (members[s][r.Node], r.Distance)).ToList()),
                ("exact scan", ef, i => index.SearchExact(queries.AsSpan(i * dim, dim), 10, members[s])),
                ("two-hop walk", ef, i => index.SearchFiltered(queries.AsSpan(i * dim, dim), 10, ef, node => kept[node], FilteredWalk.TwoHop)),
                ("value links", ef, i => index.SearchFiltered(queries.AsSpan(i * dim, dim), 10, ef, node => kept[node], FilteredWalk.ValueLinks, [value])),
                ("old walk (skips refused)", ef, i => index.Search(queries.AsSpan(i * dim, dim), 10, ef, node => kept[node])),
            }).Where(m => m.Ef == efs[0] || m.Name is "value links" or "a graph of the members alone");
            foreach (var (name, ef, search) in methods)
            {
                if (name.StartsWith("old") && shares[s] < 0.01) continue; // tens of ms a query: issue 35 measured it
                var t = Time(queryCount, search, truth, queries, dim);
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "filtered-links", vectors = n, share = shares[s], matching = members[s].Length, method = name, ef,
                    recall_at_10 = t.Recall, p50_ms = t.P50, mean_ms = t.Mean, p50_vs_unfiltered = t.P50 / unfiltered.P50,
                }));
            }
        }
    }

    /// <summary>
    /// The access case: each vector in one group of <paramref name="groups"/> (linked), readers of 1, 10, 100… groups (a
    /// union the planner walks by the groups' graphs up to 16 of them, else two hops with each node's group-mates), and
    /// ranges over a number uncorrelated with the vectors (two hops, no links), beside the exact scan.
    /// </summary>
    public static void Groups(int n, int queryCount, int groups, int[] readers, int ef, VectorEncoding encoding)
    {
        const int dim = 384;
        var (data, queries) = AnnData.Vectors(n, queryCount, dim);
        var rows = Enumerable.Range(0, n).Select(i => data.AsSpan(i * dim, dim).ToArray()).ToList();
        var rng = new Random(82);
        var group = Enumerable.Range(0, n).Select(_ => rng.Next(groups)).ToArray();
        var number = Enumerable.Range(0, n).Select(_ => rng.Next(1000)).ToArray();
        using var index = new HnswIndex(dim, new HnswOptions { M = 16, EfConstruction = 200 }, n, encoding);
        // BENCH_BATCH=B: built as a shard builds it, B vectors appended, joined and linked at a time; else all at once.
        var batch = int.TryParse(Environment.GetEnvironmentVariable("BENCH_BATCH"), out var b) && b > 0 ? b : n;
        // BENCH_MEMBERSHIPS=1: each vector in a fine group of 1,000 and a keyword too, joined first (as a document's acl lists its fine group first).
        var more = Environment.GetEnvironmentVariable("BENCH_MEMBERSHIPS") == "1";
        for (var start = 0; start < n; start += batch)
        {
            var first = index.AppendRange(rows.GetRange(start, Math.Min(batch, n - start)));
            for (var i = first; i < index.Count; i++)
            {
                if (more) { index.Join(i, $"f{i % 1000}"); index.Join(i, $"k{i % 7}"); }
                index.Join(i, $"g{group[i]}");
            }
            index.LinkPending(Environment.ProcessorCount);
        }
        var unit = rows.Select(r => { var u = r.ToArray(); HnswIndex.Normalize(u); return u; }).ToArray();
        HashSet<int>[] Truth(int[] members) => Enumerable.Range(0, queryCount).Select(i =>
        {
            var q = queries.AsSpan(i * dim, dim).ToArray();
            HnswIndex.Normalize(q);
            return members.OrderByDescending(m => System.Numerics.Tensors.TensorPrimitives.Dot(q, unit[m])).Take(10).ToHashSet();
        }).ToArray();
        var all = Enumerable.Range(0, n).ToArray();
        var unfiltered = Time(queryCount, i => index.Search(queries.AsSpan(i * dim, dim), 10, ef), Truth(all), queries, dim);
        Console.WriteLine(JsonSerializer.Serialize(new { bench = "filtered-groups", vectors = n, groups, method = "unfiltered walk", ef, recall_at_10 = unfiltered.Recall, p50_ms = unfiltered.P50 }));
        var cases = readers.Select(r => ($"reader of {r} groups", (Func<int, bool>)(i => group[i] < r), Enumerable.Range(0, r).Select(g => index.ValueId($"g{g}")).ToArray()))
            .Concat([("number < 10 (1 %)", i => number[i] < 10, null), ("number < 100 (10 %)", i => number[i] < 100, null),
                ("10 groups and number < 400 (4 %)", i => group[i] < groups / 10 && number[i] < 400, null)]);
        foreach (var (name, keeps, values) in cases)
        {
            var members = Enumerable.Range(0, n).Where(keeps).ToArray();
            var kept = new bool[n];
            foreach (var m in members) kept[m] = true;
            var truth = Truth(members);
            var methods = new List<(string, Func<int, List<(int Node, float Distance)>>)>
            {
                ("exact scan", i => index.SearchExact(queries.AsSpan(i * dim, dim), 10, members)),
                // As a shard's planner runs it: reading the lists of the filter's groups where a node holds one.
                ("two-hop walk", i => index.SearchFiltered(queries.AsSpan(i * dim, dim), 10, ef, node => kept[node], FilteredWalk.TwoHop, values)),
                ("two-hop walk, main links only", i => index.SearchFiltered(queries.AsSpan(i * dim, dim), 10, ef, node => kept[node], FilteredWalk.TwoHop)),
            };
            if (values is { Length: <= 16 })
                methods.Add(("value links", i => index.SearchFiltered(queries.AsSpan(i * dim, dim), 10, ef, node => kept[node], FilteredWalk.ValueLinks, values)));
            foreach (var (method, search) in methods)
            {
                var t = Time(queryCount, search, truth, queries, dim);
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "filtered-groups", vectors = n, filter = name, matching = members.Length, method, ef,
                    recall_at_10 = t.Recall, p50_ms = t.P50, p50_vs_unfiltered = t.P50 / unfiltered.P50,
                }));
            }
        }
    }

    private static (double Recall, double P50, double Mean) Time(int queryCount, Func<int, List<(int Node, float Distance)>> search, HashSet<int>[]? truth,
        float[] queries, int dim)
    {
        for (var i = 0; i < Math.Min(20, queryCount); i++) search(i); // warm
        var ms = new double[queryCount];
        var hits = 0;
        var sw = new Stopwatch();
        for (var i = 0; i < queryCount; i++)
        {
            sw.Restart();
            var found = search(i);
            ms[i] = sw.Elapsed.TotalMilliseconds;
            if (truth is not null) hits += found.Count(r => truth[i].Contains(r.Node));
        }
        Array.Sort(ms);
        return (hits / (queryCount * 10.0), ms[queryCount / 2], ms.Average());
    }
}
