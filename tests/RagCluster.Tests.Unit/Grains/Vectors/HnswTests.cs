using System.Numerics.Tensors;
using RagCluster.Grains.Vectors;

namespace RagCluster.Tests.Rag;

[Trait("Category", "Unit")]
public sealed class HnswTests
{
    private static float[][] RandomVectors(int n, int dims, int seed)
    {
        var rng = new Random(seed);
        var data = new float[n][];
        for (var i = 0; i < n; i++)
        {
            var v = new float[dims];
            for (var d = 0; d < dims; d++) v[d] = (float)(rng.NextDouble() * 2 - 1);
            HnswIndex.Normalize(v);
            data[i] = v;
        }
        return data;
    }

    private static int[] BruteForce(float[][] data, float[] q, int k, Func<int, bool>? accept = null) =>
        Enumerable.Range(0, data.Length).Where(i => accept is null || accept(i))
            .OrderByDescending(i => TensorPrimitives.Dot(data[i], q)).Take(k).ToArray();

    [Fact]
    public void Recall_at_10_is_at_least_095_against_brute_force_on_20k_random_vectors()
    {
        const int n = 20_000, dims = 64, queries = 200;
        var data = RandomVectors(n, dims, 1);
        // Uniform random vectors are the hardest case for HNSW: on this data hnswlib 0.6.2 (M 16, efC 200) reaches
        // 0.898 at ef 128 and 0.980 at ef 256.
        var index = new HnswIndex(dims, new HnswOptions { M = 16, EfConstruction = 200, EfSearch = 256 });
        foreach (var v in data) index.Add(v);
        var qs = RandomVectors(queries, dims, 2);
        var hits = 0;
        foreach (var q in qs)
        {
            var truth = BruteForce(data, q, 10).ToHashSet();
            hits += index.Search(q, 10).Count(r => truth.Contains(r.Node));
        }
        var recall = hits / (double)(queries * 10);
        Assert.True(recall >= 0.95, $"recall@10 = {recall:F4}");
    }

    [Fact]
    public void A_two_thread_bulk_build_finds_what_a_one_thread_build_finds_and_appends_after_existing_nodes()
    {
        const int n = 8_000, dims = 48;
        var data = RandomVectors(n, dims, 11);
        var options = new HnswOptions { M = 12, EfConstruction = 100, EfSearch = 64 };
        var sequential = new HnswIndex(dims, options);
        foreach (var v in data) sequential.Add(v);
        // The bulk build extends an index that already holds nodes, as a shard restore or a batch upsert does.
        var bulk = new HnswIndex(dims, options);
        foreach (var v in data.Take(100)) bulk.Add(v);
        Assert.Equal(100, bulk.AddRange(data.Skip(100).ToList(), threads: 2));
        Assert.Equal(n, bulk.Count);
        var qs = RandomVectors(200, dims, 12);
        double Recall(HnswIndex index) => qs.Sum(q => index.Search(q, 10, ef: 200).Count(r => BruteForce(data, q, 10).Contains(r.Node))) / (qs.Length * 10.0);
        var (seqRecall, bulkRecall) = (Recall(sequential), Recall(bulk));
        Assert.True(bulkRecall >= 0.9 && bulkRecall >= seqRecall - 0.02, $"recall@10: bulk {bulkRecall:F3}, sequential {seqRecall:F3}");
        // Every node can be found by its own vector, so none was left out of the graph by a race, and a walk on layer 0
        // reaches every node (before the pass was mended, 2 of 16 such builds left a node no walk reached).
        var missing = Enumerable.Range(0, n).Count(i => bulk.Search(data[i], 1, ef: 64)[0].Node != i);
        Assert.True(missing <= n / 1000, $"{missing} of {n} nodes not found by their own vector");
        Assert.Empty(bulk.UnreachableOnLayer0());
        // A node's walk beside another thread may find the node itself: 1,811 self-links in 16 such builds before it was skipped.
        Assert.Equal(0, bulk.SelfLinkedOnLayer0());
        Assert.Throws<ArgumentException>(() => bulk.AddRange([new float[dims], new float[dims - 1]], threads: 2));
        Assert.Equal(n, bulk.Count); // a bad batch adds nothing
    }

    [Fact]
    public void Deleted_nodes_never_come_back_and_filters_apply()
    {
        var data = RandomVectors(3000, 32, 3);
        var index = new HnswIndex(32, new HnswOptions { M = 12, EfConstruction = 100, EfSearch = 64 });
        foreach (var v in data) index.Add(v);
        for (var i = 0; i < 3000; i += 2) index.Delete(i);
        Assert.Equal(1500, index.LiveCount);
        var qs = RandomVectors(50, 32, 4);
        var hits = 0;
        foreach (var q in qs)
        {
            var found = index.Search(q, 10);
            Assert.All(found, r => Assert.True(r.Node % 2 == 1));
            var truth = BruteForce(data, q, 10, i => i % 2 == 1).ToHashSet();
            hits += found.Count(r => truth.Contains(r.Node));
            var filtered = index.Search(q, 5, accept: node => node % 3 == 0);
            Assert.All(filtered, r => Assert.True(r.Node % 3 == 0 && r.Node % 2 == 1));
        }
        Assert.True(hits / 500.0 >= 0.9, $"recall after deleting half = {hits / 500.0:F3}");
        // The nearest neighbour of a stored vector is itself, with distance ~0.
        var self = index.Search(data[1], 1)[0];
        Assert.Equal(1, self.Node);
        Assert.True(self.Distance < 1e-5);
    }

    [Fact]
    public void Snapshot_round_trip_gives_identical_results()
    {
        var data = RandomVectors(2000, 48, 5);
        var index = new HnswIndex(48, new HnswOptions { M = 8, EfConstruction = 64 });
        foreach (var v in data) index.Add(v);
        index.Delete(7);
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) index.Save(w);
        ms.Position = 0;
        var restored = HnswIndex.Load(new BinaryReader(ms));
        Assert.Equal(index.Count, restored.Count);
        Assert.True(restored.IsDeleted(7));
        foreach (var q in RandomVectors(20, 48, 6))
            Assert.Equal(index.Search(q, 10).Select(r => r.Node), restored.Search(q, 10).Select(r => r.Node));
        // A truncated snapshot is refused, not half-loaded.
        var bytes = ms.ToArray();
        Assert.Throws<InvalidDataException>(() => HnswIndex.Load(new BinaryReader(new MemoryStream(bytes[..(bytes.Length / 2)]))));
    }

    [Theory]
    [InlineData(VectorMetric.Dot)]
    [InlineData(VectorMetric.L2)]
    public void Dot_and_l2_indexes_compare_vectors_as_sent_find_what_brute_force_finds_and_survive_a_snapshot(VectorMetric metric)
    {
        // Lengths 0.5..3: unit vectors would rank the same by every metric.
        var rng = new Random(11);
        var data = RandomVectors(3000, 32, 12).Select(v => v.Select(x => x * (0.5f + 2.5f * (float)rng.NextDouble())).ToArray()).ToArray();
        var queries = RandomVectors(30, 32, 13).Select(v => v.Select(x => x * 2f).ToArray()).ToArray();
        float Distance(float[] a, float[] b) => metric == VectorMetric.L2 ? TensorPrimitives.Distance(a, b) : -TensorPrimitives.Dot(a, b);
        var index = new HnswIndex(32, new HnswOptions { M = 16, EfConstruction = 200 }, metric: metric);
        foreach (var v in data) index.Add(v);
        Assert.Equal(data[5], index.Vector(5).ToArray()); // as sent, not scaled
        var found = 0;
        foreach (var q in queries)
        {
            var truth = Enumerable.Range(0, data.Length).OrderBy(i => Distance(data[i], q)).Take(10).ToArray();
            var hits = index.Search(q, 10, ef: 200);
            found += hits.Count(h => truth.Contains(h.Node));
            // The score: the inner product, or minus the Euclidean distance; an exact scan agrees.
            var best = hits[0];
            Assert.Equal(-Distance(data[best.Node], q), index.Score(best.Distance), 3);
            Assert.Equal(truth[0], index.SearchExact(q, 1)[0].Node);
        }
        Assert.True(found >= 0.9 * queries.Length * 10, $"{metric} recall@10 {found / (queries.Length * 10.0):F3}");
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) index.Save(w);
        ms.Position = 0;
        var restored = HnswIndex.Load(new BinaryReader(ms));
        Assert.Equal(metric, restored.Metric);
        foreach (var q in queries.Take(5))
            Assert.Equal(index.Search(q, 10).Select(r => (r.Node, r.Distance)), restored.Search(q, 10).Select(r => (r.Node, r.Distance)));
    }

    [Fact]
    public void Wrong_dimensions_and_empty_index_are_handled()
    {
        var index = new HnswIndex(4, new HnswOptions());
        Assert.Empty(index.Search([1, 0, 0, 0], 5));
        Assert.Throws<ArgumentException>(() => index.Add([1, 2, 3]));
        index.Add([1, 0, 0, 0]);
        Assert.Throws<ArgumentException>(() => index.Search([1, 0], 1));
        Assert.Single(index.Search([0, 1, 0, 0], 5));
    }

    [Fact]
    public async Task Searches_beside_a_background_link_never_fail_and_find_every_node_afterwards()
    {
        const int dims = 32;
        var data = RandomVectors(6000, dims, 11);
        var index = new HnswIndex(dims, new HnswOptions { EfSearch = 64 });
        index.AddRange(data[..1000], threads: 1);
        Assert.Equal(1000, index.AppendRange(data[1000..]));
        Assert.Equal(5000, index.PendingCount);
        var linking = Task.Run(() => index.LinkPending(threads: 2, beside: true));
        var searches = 0;
        var rng = new Random(5);
        // The one searcher beside it, as a shard's turns are: every answer is a well-formed list of added nodes.
        while (!linking.IsCompleted || searches < 50)
        {
            var found = index.Search(data[rng.Next(data.Length)], 10);
            Assert.InRange(found.Count, 1, 10);
            Assert.All(found, f => Assert.InRange(f.Node, 0, data.Length - 1));
            searches++;
        }
        await linking;
        Assert.Equal(0, index.PendingCount);
        var self = Enumerable.Range(0, data.Length).Count(i => index.Search(data[i], 1)[0].Node == i);
        Assert.True(self >= data.Length * 0.99, $"{self} of {data.Length} nodes found by their own vector");
    }

    [Theory]
    [InlineData(VectorEncoding.Float32)]
    [InlineData(VectorEncoding.Int8)]
    public async Task Appended_nodes_are_found_before_and_while_they_are_linked(VectorEncoding encoding)
    {
        // A shard serves a reload's log tail before linking it: its nodes must be found, by exact comparison, meanwhile.
        const int dims = 32;
        var data = RandomVectors(4000, dims, 21);
        using var index = new HnswIndex(dims, new HnswOptions { EfSearch = 32 }, 1024, encoding);
        index.AppendRange(data[..1000]);
        Assert.Equal(7, index.Search(data[7], 1)[0].Node); // no node linked yet, not even an entry point
        index.LinkPending(threads: 2);
        index.AppendRange(data[1000..]);
        for (var i = 1000; i < data.Length; i += 97)
        {
            var found = index.Search(data[i], 5);
            Assert.Equal(i, found[0].Node);
            Assert.Equal(0f, found[0].Distance, 1e-5f);
            Assert.Equal(found.Count, found.Select(f => f.Node).Distinct().Count());
            Assert.DoesNotContain(index.Search(data[i], 5, accept: n => n != i), f => f.Node == i); // the filter holds for them too
        }
        index.Delete(2000);
        Assert.NotEqual(2000, index.Search(data[2000], 1)[0].Node); // deleted while pending: gone
        var linking = Task.Run(() => index.LinkPending(threads: 2, beside: true));
        var rng = new Random(3);
        var searches = 0;
        while (!linking.IsCompleted || searches < 50)
        {
            var i = rng.Next(1000, data.Length);
            if (i != 2000) Assert.Equal(i, index.Search(data[i], 1)[0].Node);
            searches++;
        }
        await linking;
        Assert.Equal(0, index.PendingCount);
    }

    [Fact]
    public void Compaction_keeps_the_live_nodes_only_and_they_are_still_found()
    {
        const int dims = 32;
        var data = RandomVectors(4000, dims, 21);
        var index = new HnswIndex(dims, new HnswOptions { EfSearch = 64 });
        index.AddRange(data, threads: 2);
        for (var i = 0; i < data.Length; i += 2) index.Delete(i);
        var (compacted, oldNodes) = index.Compacted(threads: 2);
        Assert.Equal(2000, compacted.Count);
        Assert.Equal(0, compacted.DeletedCount);
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => 2 * i + 1), oldNodes);
        for (var node = 0; node < compacted.Count; node++) Assert.Equal(data[oldNodes[node]], compacted.Vector(node).ToArray());
        var self = Enumerable.Range(0, compacted.Count).Count(n => compacted.Search(data[oldNodes[n]], 1)[0].Node == n);
        Assert.True(self >= compacted.Count * 0.99, $"{self} of {compacted.Count} nodes found by their own vector");
        Assert.True(compacted.MemoryBytes < index.MemoryBytes * 0.6, $"{compacted.MemoryBytes} bytes after, {index.MemoryBytes} before");
    }

    [Fact]
    public void Vectors_past_two_gibibytes_are_stored_and_read_back()
    {
        // 530,000 vectors of 1,024 floats: 2.17 GB, past the 2^31 bytes one array's offsets and int products reach.
        const int dims = 1024, n = 530_000;
        var distinct = RandomVectors(1021, dims, 31); // a prime count, so no two blocks hold the same pattern
        var index = new HnswIndex(dims, new HnswOptions());
        index.AppendRange(Enumerable.Range(0, n).Select(i => distinct[i % distinct.Length]).ToList());
        Assert.Equal(n, index.Count);
        Assert.True(index.MemoryBytes > 1L << 31, $"{index.MemoryBytes} bytes");
        foreach (var node in new[] { 0, 524_287, 524_288, n - 1 })
            Assert.Equal(distinct[node % distinct.Length], index.Vector(node).ToArray());
    }

    [Fact]
    public void The_int8_dot_product_is_exact_at_every_length()
    {
        var rng = new Random(7);
        foreach (var n in new[] { 1, 31, 32, 33, 64, 384, 385 })
        {
            var a = Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
            var b = Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
            var expected = a.Zip(b, (x, y) => x * y).Sum();
            Assert.Equal(expected, VectorMath.Dot(a, b));
        }
    }

    [Fact]
    public unsafe void Full_precision_rows_stay_mapped_across_segments_and_while_a_reader_holds_them()
    {
        const int dims = 8, rows = 40_000; // past two 16,384-row segments
        var file = new FullPrecisionFile(dims);
        for (var r = 0; r < rows; r++) file.Write(r, Enumerable.Range(0, dims).Select(d => (float)(r * dims + d)).ToArray());
        var into = new float[dims];
        foreach (var r in new[] { 0, 16_383, 16_384, 32_768, rows - 1 })
        {
            file.Read(r, into);
            Assert.Equal(Enumerable.Range(0, dims).Select(d => (float)(r * dims + d)), into);
        }
        Assert.Throws<InvalidOperationException>(() => file.Read(49_152, into)); // a segment never written

        // Disposed while a search still reads: that reader keeps the mapping until it is done; no new reader starts.
        var lease = file.Use();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.Read(0, into));
        Assert.Equal(39_999f * dims, file.Row(39_999)[0]);
        lease.Dispose();
    }

    [Fact]
    public void An_int8_index_finds_what_brute_force_finds_returns_exact_distances_and_survives_a_snapshot()
    {
        const int n = 5_000, dims = 96;
        var data = RandomVectors(n, dims, 11);
        using var index = new HnswIndex(dims, new HnswOptions { M = 16, EfConstruction = 200 }, 1024, VectorEncoding.Int8);
        index.AddRange(data, threads: 2);
        Assert.Equal(VectorEncoding.Int8, index.Encoding);
        // The full-precision vectors come back from the file as they went in (normalised).
        Assert.True(TensorPrimitives.Distance(data[1234], index.Vector(1234)) < 1e-6f);
        var queries = RandomVectors(100, dims, 12);
        var hits = 0;
        foreach (var q in queries)
        {
            var found = index.Search(q, 10, 128);
            var truth = BruteForce(data, q, 10).ToHashSet();
            hits += found.Count(r => truth.Contains(r.Node));
            // Rescored: each distance is the exact cosine distance, and they come closest first.
            foreach (var (node, distance) in found) Assert.Equal(1 - TensorPrimitives.Dot(data[node], q), distance, 1e-5f);
            Assert.True(found.Zip(found.Skip(1)).All(p => p.First.Distance <= p.Second.Distance));
        }
        Assert.True(hits / 1000.0 >= 0.9, $"recall@10 {hits / 1000.0}");

        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) index.Save(w);
        stream.Position = 0;
        using var loaded = HnswIndex.Load(new BinaryReader(stream));
        Assert.Equal(VectorEncoding.Int8, loaded.Encoding);
        foreach (var q in queries.Take(20)) Assert.Equal(index.Search(q, 10, 64), loaded.Search(q, 10, 64));

        // Compaction keeps the encoding.
        for (var i = 0; i < 2000; i++) loaded.Delete(i);
        var (compacted, old) = loaded.Compacted();
        using (compacted)
        {
            Assert.Equal(VectorEncoding.Int8, compacted.Encoding);
            Assert.Equal(3000, compacted.Count);
            var nearest = compacted.Search(data[old[0]], 1)[0].Node; // a live node finds itself, under its new id
            Assert.Equal(old[0], old[nearest]);
        }
    }

    [Fact]
    public void A_link_pass_that_fails_leaves_its_nodes_pending_and_the_next_pass_links_them()
    {
        var rng = new Random(5);
        const int dims = 32, n = 3000;
        var data = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, dims).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray()).ToArray();
        using var index = new HnswIndex(dims, new HnswOptions { M = 8, EfConstruction = 64 });
        index.AppendRange(data);
        // A parallel pass that stops (here: cancelled before its first node) must not count its nodes as linked.
        Assert.ThrowsAny<OperationCanceledException>(() => index.LinkPending(threads: 2, cancellationToken: new CancellationToken(true)));
        Assert.True(index.PendingCount >= n - 1, $"{index.PendingCount} pending after a pass that linked nothing");
        Assert.Throws<InvalidOperationException>(() => index.Save(new BinaryWriter(new MemoryStream()))); // no snapshot of unlinked nodes

        index.LinkPending(threads: 2);
        Assert.Equal(0, index.PendingCount);
        var missing = Enumerable.Range(0, n).Count(i => index.Search(data[i], 1, 64)[0].Node != i);
        Assert.True(missing <= n / 100, $"{missing} of {n} nodes do not find themselves after the second pass");
    }
}
