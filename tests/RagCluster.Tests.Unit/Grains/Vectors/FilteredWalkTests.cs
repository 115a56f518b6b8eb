using System.Numerics.Tensors;
using RagCluster.Grains.Vectors;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Links per value and the filtered walks (issue 82) against brute force: random memberships, members moved between
/// values as a tag PATCH moves them, deletes, members joined and not linked yet, a snapshot round trip; float32 and int8.
/// </summary>
[Trait("Category", "Unit")]
public sealed class FilteredWalkTests
{
    private const int Dims = 32;
    private static readonly string[] Values = ["a", "b", "c"];
    private static readonly double[] Shares = [0.02, 0.1, 0.4];

    private static float[] Random(Random rng)
    {
        var v = new float[Dims];
        for (var d = 0; d < Dims; d++) v[d] = (float)(rng.NextDouble() * 2 - 1);
        HnswIndex.Normalize(v);
        return v;
    }

    /// <summary>An index of n nodes, each in one value (by the shares) or none, then moves and deletes; the model of who holds what.</summary>
    private static (HnswIndex Index, List<float[]> Data, string?[] Holds) Build(VectorEncoding encoding, int seed, int n = 4000)
    {
        var rng = new Random(seed);
        var data = Enumerable.Range(0, n).Select(_ => Random(rng)).ToList();
        var index = new HnswIndex(Dims, new HnswOptions { M = 12, EfConstruction = 100, EfSearch = 64 }, encoding: encoding);
        index.AddRange(data, threads: 2);
        var holds = new string?[n];
        for (var i = 0; i < n; i++)
        {
            var x = rng.NextDouble();
            for (var v = 0; v < Values.Length && holds[i] is null; v++)
                if ((x -= Shares[v]) < 0) index.Join(i, holds[i] = Values[v]);
        }
        index.LinkPending(2);
        // A tag PATCH moves 300 documents to another value (or out of every value), and 200 documents are deleted.
        for (var j = 0; j < 300; j++)
        {
            var node = rng.Next(n);
            if (holds[node] is { } old) index.Leave(node, old);
            holds[node] = rng.Next(4) is var to && to < 3 ? Values[to] : null;
            if (holds[node] is { } now) index.Join(node, now);
        }
        for (var j = 0; j < 200; j++)
        {
            var node = rng.Next(n);
            index.Delete(node);
            holds[node] = null;
        }
        index.LinkPending(2);
        return (index, data, holds);
    }

    private static double Recall(HnswIndex index, List<float[]> data, string?[] holds, string value, FilteredWalk walk, int seed, bool onlyKept = true)
    {
        var rng = new Random(seed);
        var (hits, wanted) = (0, 0);
        var id = index.ValueId(value);
        for (var i = 0; i < 50; i++)
        {
            var q = Random(rng);
            var truth = Enumerable.Range(0, data.Count).Where(n => holds[n] == value)
                .OrderByDescending(n => TensorPrimitives.Dot(data[n], q)).Take(10).ToHashSet();
            var found = index.SearchFiltered(q, 10, 64, n => holds[n] == value, walk, [id]);
            if (onlyKept) Assert.All(found, r => Assert.Equal(value, holds[r.Node]));
            hits += found.Count(r => truth.Contains(r.Node));
            wanted += truth.Count;
        }
        return hits / (double)wanted;
    }

    [Theory]
    [InlineData(VectorEncoding.Float32)]
    [InlineData(VectorEncoding.Int8)]
    public void Each_value_walk_finds_what_brute_force_finds_after_moves_and_deletes(VectorEncoding encoding)
    {
        var (index, data, holds) = Build(encoding, 82);
        foreach (var value in Values)
        {
            var recall = Recall(index, data, holds, value, FilteredWalk.ValueLinks, 1);
            Assert.True(recall >= 0.95, $"{value}: value links recall@10 {recall:F3}");
            Assert.Empty(index.UnreachableInValue(value));
            Assert.Equal(holds.Count(h => h == value), index.ValueSize(index.ValueId(value)));
        }
        // The two-hop walk, for filters without links, where a filter keeps a tenth of the graph or more.
        foreach (var value in new[] { "b", "c" })
        {
            var recall = Recall(index, data, holds, value, FilteredWalk.TwoHop, 2);
            Assert.True(recall >= 0.9, $"{value}: two-hop recall@10 {recall:F3}");
        }
        index.Dispose();
    }

    [Fact]
    public void Links_survive_a_snapshot_and_members_not_linked_yet_are_found()
    {
        var (index, data, holds) = Build(VectorEncoding.Float32, 7, n: 2000);
        var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) index.Save(w);
        stream.Position = 0;
        var loaded = HnswIndex.Load(new BinaryReader(stream));
        Assert.Equal(index.ValueMembers, loaded.ValueMembers);
        Assert.Equal(index.GoneValueMembers, loaded.GoneValueMembers);
        for (var node = 0; node < data.Count; node++) Assert.Equal(holds[node] is { } h ? [h] : Array.Empty<string>(), loaded.ValuesOf(node).ToArray());
        var rng = new Random(3);
        for (var i = 0; i < 20; i++)
        {
            var q = Random(rng);
            foreach (var value in Values)
            {
                var id = index.ValueId(value);
                Assert.Equal(loaded.ValueId(value), id);
                Assert.Equal(index.SearchFiltered(q, 10, 64, n => holds[n] == value, FilteredWalk.ValueLinks, [id]).Select(r => r.Node),
                    loaded.SearchFiltered(q, 10, 64, n => holds[n] == value, FilteredWalk.ValueLinks, [id]).Select(r => r.Node));
            }
        }
        // New nodes joined and not linked: a walk compares them one by one, and a snapshot waits for their links.
        var late = Enumerable.Range(0, 30).Select(_ => Random(rng)).ToList();
        var first = loaded.AppendRange(late);
        for (var i = 0; i < late.Count; i++) loaded.Join(first + i, "late");
        Assert.Throws<InvalidOperationException>(() => loaded.Save(new BinaryWriter(new MemoryStream())));
        var lateId = loaded.ValueId("late");
        var hit = loaded.SearchFiltered(late[17], 1, 64, n => n >= first, FilteredWalk.ValueLinks, [lateId]);
        Assert.Equal(first + 17, hit.Single().Node);
        loaded.LinkPending(2);
        Assert.Equal(0, loaded.PendingCount);
        Assert.Empty(loaded.UnreachableInValue("late"));
        Assert.Equal(first + 17, loaded.SearchFiltered(late[17], 1, 64, n => n >= first, FilteredWalk.ValueLinks, [lateId]).Single().Node);
    }
}
