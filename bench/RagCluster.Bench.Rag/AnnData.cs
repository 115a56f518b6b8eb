using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace RagCluster.Bench.Rag;

/// <summary>
/// ann_data.py's recipe in C# (no numpy here): unit vectors around n/50 Gaussian centres, noise σ = 1, held-out queries
/// from the same distribution, and (for <see cref="Write"/>) the exact top 10 of each by inner product.
/// BENCH_CENTRES=C draws around C centres instead: a shard's own draw, since a collection of N in S shards gives each
/// shard N/S vectors around the collection's N/50 centres (about 12 a centre at 4 shards, not 50).
/// </summary>
public static class AnnData
{
    public static (float[] Data, float[] Queries) Vectors(int n, int q, int dim)
    {
        var (data, queries, _, _) = VectorsWithCentres(n, q, dim);
        return (data, queries);
    }

    /// <summary><see cref="Vectors"/> and the centre each vector and query was drawn around (the same draws).</summary>
    public static (float[] Data, float[] Queries, int[] DataCentre, int[] QueryCentre) VectorsWithCentres(int n, int q, int dim)
    {
        var rng = new Random(42);
        float Gauss() => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        var count = int.TryParse(Environment.GetEnvironmentVariable("BENCH_CENTRES"), out var c) && c > 0 ? c : Math.Max(1, n / 50);
        var centres = new float[count * dim];
        for (var i = 0; i < centres.Length; i++) centres[i] = Gauss();
        float[] Sample(int k, int[] drawn)
        {
            var x = new float[k * dim];
            for (var r = 0; r < k; r++)
            {
                var c = drawn[r] = rng.Next(centres.Length / dim);
                var v = x.AsSpan(r * dim, dim);
                for (var d = 0; d < dim; d++) v[d] = centres[c * dim + d] + Gauss();
                TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
            }
            return x;
        }
        var (dataCentre, queryCentre) = (new int[n], new int[q]);
        return (Sample(n, dataCentre), Sample(q, queryCentre), dataCentre, queryCentre);
    }

    /// <summary>The exact top 10 of each query by inner product, as ann_data.py writes gt.i32.</summary>
    public static int[] Truth(float[] data, float[] queries, int dim)
    {
        var (n, q) = (data.Length / dim, queries.Length / dim);
        var gt = new int[q * 10];
        Parallel.For(0, q, i =>
        {
            var query = queries.AsSpan(i * dim, dim);
            var best = new PriorityQueue<int, float>(); // min-heap of the best 10 scores
            for (var j = 0; j < n; j++)
            {
                var s = TensorPrimitives.Dot(query, data.AsSpan(j * dim, dim));
                if (best.Count < 10) best.Enqueue(j, s);
                else if (best.TryPeek(out _, out var worst) && s > worst) best.EnqueueDequeue(j, s);
            }
            for (var k = 9; k >= 0; k--) gt[i * 10 + k] = best.Dequeue();
        });
        return gt;
    }

    /// <summary>Writes data.f32, queries.f32, gt.i32 and shape.txt in ann_data.py's layout, for the benches that read it.</summary>
    public static void Write(string dir, int n, int dim, int q)
    {
        Directory.CreateDirectory(dir);
        var (data, queries) = Vectors(n, q, dim);
        File.WriteAllBytes(Path.Combine(dir, "data.f32"), MemoryMarshal.AsBytes(data.AsSpan()).ToArray());
        File.WriteAllBytes(Path.Combine(dir, "queries.f32"), MemoryMarshal.AsBytes(queries.AsSpan()).ToArray());
        File.WriteAllBytes(Path.Combine(dir, "gt.i32"), MemoryMarshal.AsBytes(Truth(data, queries, dim).AsSpan()).ToArray());
        File.WriteAllText(Path.Combine(dir, "shape.txt"), $"{n} {dim} {q}\n");
        Console.Error.WriteLine($"wrote {n}x{dim} data, {q} queries and exact top-10 to {dir}");
    }
}
