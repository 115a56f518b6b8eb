using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using RagCluster.Grains.Vectors;

namespace RagCluster.Bench.Rag;

/// <summary>Our HNSW on ann_data.py's vectors: build time, memory, recall@10 and single-thread QPS per ef.</summary>
public static class AnnBench
{
    /// <summary>Builds on one thread and sweeps ef; then, when <paramref name="threads"/> is above 1, builds again with that many threads.</summary>
    public static void Run(string dir, int m, int efConstruction, int[] efs, int threads, VectorEncoding encoding = VectorEncoding.Float32)
    {
        var lib = encoding == VectorEncoding.Int8 ? "ragcluster-int8" : "ragcluster";
        var shape = File.ReadAllText(Path.Combine(dir, "shape.txt")).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        var (n, dim, q) = (shape[0], shape[1], shape[2]);
        var data = Read<float>(Path.Combine(dir, "data.f32"));
        var queries = Read<float>(Path.Combine(dir, "queries.f32"));
        var gt = Read<int>(Path.Combine(dir, "gt.i32"));

        // Warm up first (JIT, runtime structures), as the Python side has imported and initialised its library before
        // it measures: the growth below is then the index's own.
        WarmUp(data, queries, Math.Min(n, 2000), dim, m, efConstruction, encoding);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var before = Process.GetCurrentProcess().WorkingSet64;
        var sw = Stopwatch.StartNew();
        var index = new HnswIndex(dim, new HnswOptions { M = m, EfConstruction = efConstruction }, n, encoding);
        for (var i = 0; i < n; i++) index.Add(data.AsSpan(i * dim, dim));
        var build = sw.Elapsed.TotalSeconds;
        GC.Collect();
        var grown = (Process.GetCurrentProcess().WorkingSet64 - before) / (double)(1 << 20);
        Console.WriteLine(JsonSerializer.Serialize(new { lib, build_s = build, memory_mb = grown, index_mb = index.MemoryBytes / (double)(1 << 20),
            recall_ef64 = Recall(index, queries, gt, q, dim, 64) }));

        foreach (var ef in efs)
        {
            for (var i = 0; i < Math.Min(q, 100); i++) index.Search(queries.AsSpan(i * dim, dim), 10, ef); // warm-up (JIT tiers)
            // QPS is the median of 5 passes over all the queries (one pass moved by up to 5 % between runs).
            var hits = 0;
            var rates = new List<double>();
            for (var pass = 0; pass < 5; pass++)
            {
                hits = 0;
                sw.Restart();
                for (var i = 0; i < q; i++)
                {
                    var found = index.Search(queries.AsSpan(i * dim, dim), 10, ef);
                    var truth = gt.AsSpan(i * 10, 10);
                    foreach (var (node, _) in found) if (truth.Contains(node)) hits++;
                }
                rates.Add(q / sw.Elapsed.TotalSeconds);
            }
            Console.WriteLine(JsonSerializer.Serialize(new { lib, ef, recall = hits / (q * 10.0), qps = rates.Order().ElementAt(2) }));
        }
        index.Dispose();
        index = null!;
        GC.Collect();
        if (threads > 1)
        {
            var vectors = Enumerable.Range(0, n).Select(i => data.AsSpan(i * dim, dim).ToArray()).ToList();
            var sw2 = Stopwatch.StartNew();
            var parallel = new HnswIndex(dim, new HnswOptions { M = m, EfConstruction = efConstruction }, n, encoding);
            parallel.AddRange(vectors, threads);
            var secs = sw2.Elapsed.TotalSeconds;
            Console.WriteLine(JsonSerializer.Serialize(new { lib, threads, build_s = secs, recall_ef64 = Recall(parallel, queries, gt, q, dim, 64) }));
        }
    }

    private static void WarmUp(float[] data, float[] queries, int n, int dim, int m, int efConstruction, VectorEncoding encoding)
    {
        using var warm = new HnswIndex(dim, new HnswOptions { M = m, EfConstruction = efConstruction }, 1024, encoding);
        for (var i = 0; i < n; i++) warm.Add(data.AsSpan(i * dim, dim));
        warm.Search(queries.AsSpan(0, dim), 10, 16);
    }

    private static double Recall(HnswIndex index, float[] queries, int[] gt, int q, int dim, int ef)
    {
        var hits = 0;
        for (var i = 0; i < q; i++)
            foreach (var (node, _) in index.Search(queries.AsSpan(i * dim, dim), 10, ef))
                if (gt.AsSpan(i * 10, 10).Contains(node)) hits++;
        return hits / (q * 10.0);
    }

    private static T[] Read<T>(string path) where T : unmanaged => MemoryMarshal.Cast<byte, T>(File.ReadAllBytes(path)).ToArray();
}
