using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using RagCluster.Grains.Vectors;

namespace RagCluster.Bench.Rag;

/// <summary>
/// A filter that leaves few vectors (issue 35, item 3): the graph walk that skips every node the filter refuses, beside
/// the exact scan of the vectors it leaves (what a shard does below Hnsw:ExactSearchThreshold). Recall@10 against brute
/// force over the allowed vectors, and the mean time a query, on ann_data.py's vectors, one thread.
/// </summary>
public static class FilteredBench
{
    public static void Run(string dir, double[] selectivities, int ef, int queryCount)
    {
        var shape = File.ReadAllText(Path.Combine(dir, "shape.txt")).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        var (n, dim, q) = (shape[0], shape[1], Math.Min(shape[2], queryCount));
        var data = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(dir, "data.f32"))).ToArray();
        var queries = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(dir, "queries.f32"))).ToArray();
        var sw = Stopwatch.StartNew();
        using var index = new HnswIndex(dim, new HnswOptions { M = 16, EfConstruction = 200 }, n);
        index.AddRange(Enumerable.Range(0, n).Select(i => data.AsSpan(i * dim, dim).ToArray()).ToList(), threads: Environment.ProcessorCount);
        Console.Error.WriteLine($"built {n} x {dim} in {sw.Elapsed.TotalSeconds:F1} s");
        var unit = new float[n * dim];
        for (var i = 0; i < n; i++)
        {
            var v = unit.AsSpan(i * dim, dim);
            data.AsSpan(i * dim, dim).CopyTo(v);
            HnswIndex.Normalize(v);
        }
        foreach (var s in selectivities)
        {
            // Every k-th vector passes, k = 1/s, offset so the set is not the graph's first nodes.
            var every = (int)Math.Round(1 / s);
            var allowed = Enumerable.Range(0, n).Where(i => (i * 7919L + 13) % every == 0).ToArray();
            var pass = new bool[n];
            foreach (var a in allowed) pass[a] = true;
            var (walkHits, exactHits, walkTime, exactTime) = (0, 0, 0.0, 0.0);
            for (var i = 0; i < q; i++)
            {
                var query = queries.AsSpan(i * dim, dim).ToArray();
                var unitQuery = query.ToArray();
                HnswIndex.Normalize(unitQuery);
                var truth = allowed.OrderByDescending(a => Dot(unitQuery, unit.AsSpan(a * dim, dim))).Take(10).ToHashSet();
                sw.Restart();
                var walked = index.Search(query, 10, ef, node => pass[node]);
                walkTime += sw.Elapsed.TotalMilliseconds;
                sw.Restart();
                var scanned = index.SearchExact(query, 10, allowed);
                exactTime += sw.Elapsed.TotalMilliseconds;
                walkHits += walked.Count(r => truth.Contains(r.Node));
                exactHits += scanned.Count(r => truth.Contains(r.Node));
            }
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "filtered", vectors = n, dim, selectivity = s, matching = allowed.Length, ef, queries = q,
                walk_recall = walkHits / (q * 10.0), walk_ms = walkTime / q, exact_recall = exactHits / (q * 10.0), exact_ms = exactTime / q,
            }));
        }
    }

    private static float Dot(float[] a, ReadOnlySpan<float> b)
    {
        var s = 0f;
        for (var i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
