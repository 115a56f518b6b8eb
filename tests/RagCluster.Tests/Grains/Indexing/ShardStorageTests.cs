using Microsoft.Extensions.DependencyInjection;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Metadata;
using RagCluster.Storage;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>A shard's storage at size: snapshots in pages, failed snapshots, and graphs that shed their deleted nodes.</summary>
[Collection("cluster")]
public sealed class ShardStorageTests(PostgresFixture postgres)
{
    private static Task<RagTestCluster> NewCluster(string? storage = null, string? serviceId = null, int compactMinDeleted = 1000) =>
        RagTestCluster.StartAsync(1, storage, new()
        {
            ["Embedding:ModelDirectory"] = RepoPaths.TestModel,
            ["Hnsw:CompactMinDeleted"] = compactMinDeleted.ToString(),
        }, serviceId);

    private static float[] Vector(Random rng, int dims) => Enumerable.Range(0, dims).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();

    private static ChunkRecord Chunk(string doc, float[] vector, string text = "") =>
        new($"{doc}#0", doc, 0, 0, 1, text.Length > 0 ? text : $"text of {doc}", [], [], vector);

    private static async Task<long> Scalar(string storage, string sql)
    {
        await using var c = await StoreLocation.Parse(storage).OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task A_snapshot_of_several_pages_restores_after_a_crash(string kind)
    {
        var serviceId = "pages-" + Guid.NewGuid().ToString("N")[..6];
        var storage = kind == "postgresql" ? await postgres.NewDatabaseAsync() : null;
        await using var cluster = await NewCluster(storage, serviceId);
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>("pages/0");
        var rng = new Random(7);
        // 2,000 vectors of 1,024 floats: 8 MB, so the last snapshot (at least two thirds of it) spans two 4 MiB pages or more.
        var vectors = Enumerable.Range(0, 2000).Select(_ => Vector(rng, 1024)).ToArray();
        for (var start = 0; start < vectors.Length; start += 200)
            await shard.UpsertMany(Enumerable.Range(start, 200).Select(d => new ShardUpsert($"d{d}", 1, [Chunk($"d{d}", vectors[d])])).ToArray());
        var stats = await shard.GetStats();
        Assert.True(stats.SnapshotBytes > 4 << 20, $"snapshot of {stats.SnapshotBytes} bytes");
        Assert.True(await Scalar(cluster.Storage, "SELECT count(*) FROM ragcluster_log_snapshot_page WHERE grain LIKE '%pages/0'") >= 2);
        // A few more: too few for a snapshot, so the restart has a log tail to replay and link.
        var tail = Enumerable.Range(0, 10).Select(_ => Vector(rng, 1024)).ToArray();
        await shard.UpsertMany(Enumerable.Range(0, 10).Select(d => new ShardUpsert($"t{d}", 1, [Chunk($"t{d}", tail[d])])).ToArray());
        Assert.True((await shard.GetStats()).LogEntries > 0);
        var queries = Enumerable.Range(0, 20).Select(i => new ShardQuery(vectors[i * 97], null, 5, 64, null)).ToList();
        var before = new List<string[]>();
        foreach (var q in queries) before.Add((await shard.Search(q)).Dense.Select(h => h.ChunkId).ToArray());

        await cluster.KillAsync(cluster.Cluster.Primary!); // no deactivation: the restore reads the paged snapshot plus the log tail
        await using var second = await NewCluster(cluster.Storage, serviceId);
        var restored = second.Grains.GetGrain<IIndexShardGrain>("pages/0");
        Assert.Equal(2010, (await restored.GetStats()).Vectors);
        for (var i = 0; i < queries.Count; i++)
        {
            var after = (await restored.Search(queries[i])).Dense.Select(h => h.ChunkId).ToArray();
            Assert.Equal(before[i], after);
            Assert.Equal($"d{i * 97}#0", after[0]);
        }
        Assert.Equal("t3#0", (await restored.Search(new ShardQuery(tail[3], null, 1, 64, null))).Dense[0].ChunkId);
        // The tail is linked once the start-up's shard loads are done (ShardWakeup holds it until then), not never.
        await Poll.UntilAsync(async () => (await restored.GetStats()).ActivationSplit?.Contains("linked") == true);
    }

    [Theory]
    [InlineData(0.25)]
    [InlineData(0.5)]
    public async Task The_log_since_the_last_snapshot_stays_within_its_share_of_it(double share)
    {
        // What a crash leaves to replay (Shards:SnapshotAtTailShare): checked after each write, when the snapshot the
        // write before it made due has been taken, so the bound is the share plus two writes' entries.
        await using var cluster = await RagTestCluster.StartAsync(1, null, new()
        {
            ["Embedding:ModelDirectory"] = RepoPaths.TestModel,
            ["Shards:SnapshotAtTailShare"] = share.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>("share/0");
        var rng = new Random(5);
        long batchBytes = 0, largestOver = long.MinValue;
        var snapshots = new HashSet<long>();
        for (var start = 0; start < 4000; start += 50)
        {
            await shard.UpsertMany(Enumerable.Range(start, 50).Select(d => new ShardUpsert($"d{d}", 1, [Chunk($"d{d}", Vector(rng, 384))])).ToArray());
            var stats = await shard.GetStats();
            if (start == 0) batchBytes = stats.LogBytes; // no snapshot before the first 64 entries
            if (stats.SnapshotBytes == 0) continue;
            snapshots.Add(stats.SnapshotBytes);
            largestOver = Math.Max(largestOver, stats.LogBytes - (long)(share * stats.SnapshotBytes));
        }
        Assert.True(snapshots.Count >= 3, $"{snapshots.Count} snapshots");
        Assert.True(largestOver <= 2 * batchBytes, $"the tail passed {share} of its snapshot by {largestOver} bytes (a write is {batchBytes})");
        Assert.True(largestOver > -2 * batchBytes, $"the tail stayed {-largestOver} bytes under {share} of its snapshot: snapshots came early");
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task A_snapshot_cut_off_after_its_pages_leaves_the_previous_one_whole(string kind)
    {
        var serviceId = "halfway-" + Guid.NewGuid().ToString("N")[..6];
        var storage = kind == "postgresql" ? await postgres.NewDatabaseAsync() : null;
        await using var cluster = await NewCluster(storage, serviceId);
        var failures = await InjectedWriteFailures.InstallAsync(cluster.Storage);
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>("halfway/0");
        const string Pages = "SELECT count(*) FROM ragcluster_log_snapshot_page WHERE grain LIKE '%halfway/0'";
        var rng = new Random(11);
        var vectors = Enumerable.Range(0, 3000).Select(_ => Vector(rng, 1024)).ToArray();
        async Task Load(int from, int to)
        {
            for (var start = from; start < to; start += 200)
                await shard.UpsertMany(Enumerable.Range(start, 200).Select(d => new ShardUpsert($"d{d}", 1, [Chunk($"d{d}", vectors[d])])).ToArray());
        }
        // Until the shard's snapshot spans two pages or more: when it snapshots follows its log entries' size.
        var split = 0;
        while ((await shard.GetStats()).SnapshotBytes <= 4 << 20)
        {
            Assert.True(split < 2200, $"no snapshot over 4 MiB after {split} vectors");
            await Load(split, split += 200);
        }
        var firstPages = await Scalar(cluster.Storage, Pages);

        // The next snapshot stores its pages, then fails where it would become the shard's snapshot (the row that points at them).
        await failures.FailSnapshots("%halfway/0");
        var total = split;
        while ((await shard.GetStats()).SnapshotFailures < 1)
        {
            Assert.True(total < 3000, "the next snapshot was never tried");
            await Load(total, total += 200);
        }
        // Polled: a retried snapshot first clears what the attempt before it left in its page set, then writes it again,
        // and a count taken between the two saw only the first's pages (a GPU-build run failed there once).
        await Poll.UntilAsync(async () => await Scalar(cluster.Storage, Pages) > firstPages); // the failed snapshot's pages beside the first's

        await cluster.KillAsync(cluster.Cluster.Primary!);
        await using var second = await NewCluster(cluster.Storage, serviceId);
        var restored = second.Grains.GetGrain<IIndexShardGrain>("halfway/0");
        Assert.Equal(total, (await restored.GetStats()).Vectors); // the first snapshot plus the log after it
        foreach (var d in new[] { 0, split - 1, split, total - 1 })
            Assert.Equal($"d{d}#0", (await restored.Search(new ShardQuery(vectors[d], null, 1, 64, null))).Dense[0].ChunkId);

        // Healed, the restored shard folds its log tail into a snapshot when quiet; the pages of the one before go.
        await failures.HealAll();
        await Poll.UntilAsync(async () => (await restored.GetStats()).LogEntries == 0, seconds: 60);
        var last = await restored.GetStats();
        Assert.Equal((last.SnapshotBytes + (4 << 20) - 1) / (4 << 20), await Scalar(cluster.Storage, Pages));
    }

    [Fact]
    public async Task A_write_to_a_restarted_shard_is_not_held_behind_the_other_shards_loads()
    {
        var serviceId = "held-" + Guid.NewGuid().ToString("N")[..6];
        await using var cluster = await NewCluster(null, serviceId);
        var rng = new Random(11);
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>("held/0");
        var vectors = Enumerable.Range(0, 1100).Select(_ => Vector(rng, 16)).ToArray();
        // 1,000 in a snapshot, then 100 more in the log only: a restart replays those as a tail to link.
        await shard.UpsertMany([.. Enumerable.Range(0, 1000).Select(d => new ShardUpsert($"d{d}", 1, [Chunk($"d{d}", vectors[d])]))]);
        await shard.UpsertMany([.. Enumerable.Range(1000, 100).Select(d => new ShardUpsert($"d{d}", 1, [Chunk($"d{d}", vectors[d])]))]);
        Assert.True((await shard.GetStats()).LogEntries >= 100);
        await cluster.KillAsync(cluster.Cluster.Primary!);

        // Started without waking its shards, so this one loads at its first call, while the test holds the silo's
        // "shard loads still running" open: its tail then waits to be linked, and a write must not wait with it.
        await using var second = await RagTestCluster.StartAsync(1, cluster.Storage, new()
        {
            ["Embedding:ModelDirectory"] = RepoPaths.TestModel, ["Shards:WakeOnStart"] = "false",
        }, serviceId);
        var cpu = ((Orleans.TestingHost.InProcessSiloHandle)second.Cluster.Primary!).SiloHost.Services.GetRequiredService<RagCluster.Grains.Indexing.IndexingThreads>();
        var loads = cpu.HoldForShardLoads();
        var restored = second.Grains.GetGrain<IIndexShardGrain>("held/0");
        Assert.DoesNotContain("linked", (await restored.GetStats()).ActivationSplit ?? "");
        var late = Vector(rng, 16);
        await restored.UpsertMany([new ShardUpsert("late", 1, [Chunk("late", late)])]).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("late#0", (await restored.Search(new ShardQuery(late, null, 1, 64, null))).Dense[0].ChunkId);
        loads.Dispose();
        await Poll.UntilAsync(async () => (await restored.GetStats()).ActivationSplit?.Contains("linked") == true);
        Assert.Equal(1101, (await restored.GetStats()).Vectors);
    }

    [Fact]
    public async Task A_quiet_shard_folds_its_log_tail_into_a_snapshot()
    {
        await using var cluster = await NewCluster();
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>("quiet/0");
        var rng = new Random(5);
        for (var d = 0; d < 5; d++) await shard.Upsert($"d{d}", 1, [Chunk($"d{d}", Vector(rng, 16))]);
        Assert.Equal(5, (await shard.GetStats()).LogEntries); // under the 64 entries a snapshot waits for while writes come
        var deadline = DateTime.UtcNow.AddSeconds(40);
        ShardStats stats;
        while ((stats = await shard.GetStats()).LogEntries > 0 && DateTime.UtcNow < deadline) await Task.Delay(500);
        Assert.Equal(0, stats.LogEntries);
        Assert.True(stats.SnapshotBytes > 0);
    }

    [Fact]
    public async Task A_failed_snapshot_is_reported_and_retried_until_one_succeeds()
    {
        await using var cluster = await NewCluster();
        var failures = await InjectedWriteFailures.InstallAsync(cluster.Storage);
        await failures.FailSnapshots("%snapfail/0");
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>("snapfail/0");
        var rng = new Random(9);
        for (var d = 0; d < 80; d++) await shard.Upsert($"d{d}", 1, [Chunk($"d{d}", Vector(rng, 16))]);
        var failing = await shard.GetStats();
        Assert.True(failing.SnapshotFailures >= 1, "the failed snapshot is counted");
        Assert.Contains("injected snapshot failure", failing.LastSnapshotError);
        Assert.Equal(80, failing.LogEntries); // every write was still accepted and is in the log

        await failures.HealAll();
        // No write comes now: the shard's own retry (after its backoff) must take the snapshot.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        ShardStats healed;
        while ((healed = await shard.GetStats()).SnapshotFailures > 0 && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.Equal(0, healed.SnapshotFailures);
        Assert.Null(healed.LastSnapshotError);
        Assert.Equal(0, healed.LogEntries);
        Assert.True(await Scalar(cluster.Storage, "SELECT count(*) FROM ragcluster_log WHERE grain LIKE '%snapfail/0'") == 0);
    }

    [Fact]
    public async Task Deleted_nodes_are_compacted_away_while_the_shard_keeps_answering_and_after_a_restore()
    {
        var serviceId = "compact-" + Guid.NewGuid().ToString("N")[..6];
        await using var cluster = await NewCluster(serviceId: serviceId, compactMinDeleted: 50);
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>("compact/0");
        var rng = new Random(13);
        var vectors = Enumerable.Range(0, 400).Select(_ => Vector(rng, 32)).ToArray();
        await shard.UpsertMany(Enumerable.Range(0, 400).Select(d => new ShardUpsert($"d{d}", 1, [Chunk($"d{d}", vectors[d])])).ToArray());
        // 150 of 400 deleted: over a quarter and over the minimum, so a compaction starts after the deletes' write.
        for (var d = 0; d < 400; d += 8)
            await Task.WhenAll(Enumerable.Range(d, 3).Select(x => shard.RemoveDocument($"d{x}", 2)));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        ShardStats stats;
        // Done when the graph holds fewer nodes than were ever added (deletes that came while it was built are tombstones in the new one).
        while (((stats = await shard.GetStats()).Vectors + stats.DeletedVectors == 400 || stats.Compacting) && DateTime.UtcNow < deadline)
        {
            var hit = (await shard.Search(new ShardQuery(vectors[8], null, 5, 64, null))).Dense; // d8 is deleted: never found
            Assert.DoesNotContain(hit, h => h.DocumentId == "d8");
            Assert.Equal("d11", (await shard.Search(new ShardQuery(vectors[11], null, 1, 64, null))).Dense[0].DocumentId); // live: found

            await Task.Delay(100);
        }
        Assert.Equal(250, stats.Vectors);
        Assert.InRange(stats.DeletedVectors, 0, 99);
        async Task AssertFindsLiveOnly(IIndexShardGrain s)
        {
            for (var d = 0; d < 400; d++)
            {
                var top = (await s.Search(new ShardQuery(vectors[d], null, 1, 64, null))).Dense;
                if (d % 8 < 3) Assert.True(top.Length == 0 || top[0].DocumentId != $"d{d}", $"deleted d{d} found");
                else Assert.Equal($"d{d}", top[0].DocumentId);
            }
        }
        await AssertFindsLiveOnly(shard);
        // A write after the swap lands in the compacted graph.
        var extra = Vector(rng, 32);
        await shard.Upsert("extra", 1, [Chunk("extra", extra)]);
        Assert.Equal("extra", (await shard.Search(new ShardQuery(extra, null, 1, 64, null))).Dense[0].DocumentId);

        await cluster.KillAsync(cluster.Cluster.Primary!);
        await using var second = await NewCluster(cluster.Storage, serviceId, compactMinDeleted: 50);
        var restored = second.Grains.GetGrain<IIndexShardGrain>("compact/0");
        Assert.Equal(251, (await restored.GetStats()).Vectors);
        await AssertFindsLiveOnly(restored);
    }
}

/// <summary>A filter that leaves few chunks: those are compared exactly (Hnsw:ExactSearchThreshold), not found by a walk that skips the rest.</summary>
public sealed class SelectiveFilterTests
{
    private static float[] Vector(Random rng, int dims) => Enumerable.Range(0, dims).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();

    private static float Cosine(float[] a, float[] b) =>
        a.Zip(b, (x, y) => x * y).Sum() / MathF.Sqrt(a.Sum(x => x * x) * b.Sum(x => x * x));

    [Theory]
    [InlineData("float32")]
    [InlineData("int8")]
    public async Task A_selective_filter_finds_exactly_the_nearest_matching_chunks(string quantization)
    {
        // Threshold 1,000: the 30 rare chunks are under it, the 3,000 of kind "a" over it.
        await using var cluster = await RagTestCluster.StartAsync(1, null, new() { ["Embedding:ModelDirectory"] = RepoPaths.TestModel, ["Hnsw:ExactSearchThreshold"] = "1000" });
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>($"selective-{quantization}/0");
        var rng = new Random(11);
        // 3,000 random 256-dimension vectors (hard for any graph); every 100th carries the rare tag.
        var vectors = Enumerable.Range(0, 3000).Select(_ => Vector(rng, 256)).ToArray();
        ChunkRecord Chunk(int d) => new($"d{d}#0", $"d{d}", 0, 0, 1, $"text {d}", [],
            d % 100 == 0 ? new Dictionary<string, string> { ["rare"] = "yes", ["kind"] = "a" } : new Dictionary<string, string> { ["kind"] = "a" }, vectors[d]);
        await cluster.Grains.GetGrain<ICollectionGrain>($"selective-{quantization}").Create(new CollectionSettings(1, 256, 0) { Dimensions = 256, Quantization = quantization });
        for (var start = 0; start < vectors.Length; start += 500)
            await shard.UpsertMany(Enumerable.Range(start, 500).Select(d => new ShardUpsert($"d{d}", 1, [Chunk(d)])).ToArray());

        for (var q = 0; q < 20; q++)
        {
            var query = Vector(rng, 256);
            var expected = Enumerable.Range(0, 3000).Where(d => d % 100 == 0).OrderByDescending(d => Cosine(query, vectors[d])).Take(10).Select(d => $"d{d}#0").ToArray();
            var result = await shard.Search(new ShardQuery(query, null, 10, 16, FilterParser.ParseCanonical("""{"rare":"yes","kind":"a"}""")));
            Assert.True(result.ExactScan, "30 of 3,000 chunks match: compared exactly, not walked");
            Assert.Equal(expected, result.Dense.Select(h => h.ChunkId).ToArray());
        }
        // A filter every chunk passes is no reason to scan: the graph is walked.
        Assert.False((await shard.Search(new ShardQuery(vectors[1], null, 10, 64, FilterParser.ParseCanonical("""{"kind":"a"}""")))).ExactScan);
        // A term no chunk carries: nothing, at once.
        Assert.Empty((await shard.Search(new ShardQuery(vectors[0], null, 10, 16, FilterParser.ParseCanonical("""{"rare":"no"}""")))).Dense);
    }
}

/// <summary>A float32 shard smaller than what a walk would measure (ef × 2M vectors) is scanned: exact, and cheaper.</summary>
public sealed class SmallShardScanTests
{
    [Theory]
    [InlineData("float32", 100, 100, true)]  // 3,000 vectors ≤ 100 × 2 × 16: every vector compared
    [InlineData("float32", 10, 16, false)]   // 3,000 > 16 × 2 × 16: the graph is walked
    [InlineData("float32", 10, 16, true, true)] // the same, asked exactly (a "flat" collection): every vector compared
    [InlineData("int8", 100, 100, false)]    // int8 keeps its exact rows in a file: always walked
    public async Task An_unfiltered_search_scans_a_shard_smaller_than_a_walk_and_finds_the_exact_nearest(string quantization, int k, int ef, bool scanned, bool exact = false)
    {
        await using var cluster = await RagTestCluster.StartAsync(1, null, new() { ["Embedding:ModelDirectory"] = RepoPaths.TestModel });
        var collection = $"small-{quantization}-{k}{(exact ? "-flat" : "")}";
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>($"{collection}/0");
        var rng = new Random(5);
        var vectors = Enumerable.Range(0, 3000).Select(_ => Enumerable.Range(0, 64).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray()).ToArray();
        await cluster.Grains.GetGrain<ICollectionGrain>(collection).Create(new CollectionSettings(1, 256, 0) { Dimensions = 64, Quantization = quantization });
        for (var start = 0; start < vectors.Length; start += 500)
            await shard.UpsertMany(Enumerable.Range(start, 500).Select(d =>
                new ShardUpsert($"d{d}", 1, [new ChunkRecord($"d{d}#0", $"d{d}", 0, 0, 1, $"text {d}", [], [], vectors[d])])).ToArray());
        float Cosine(float[] a, float[] b) => a.Zip(b, (x, y) => x * y).Sum() / MathF.Sqrt(a.Sum(x => x * x) * b.Sum(x => x * x));

        for (var q = 0; q < 5; q++)
        {
            var query = vectors[rng.Next(vectors.Length)].Select(x => x + ((float)rng.NextDouble() - 0.5f) * 0.5f).ToArray();
            var result = await shard.Search(new ShardQuery(query, null, k, ef, null) { Exact = exact });
            Assert.Equal(scanned, result.ExactScan);
            Assert.Equal(k, result.Dense.Length);
            if (!scanned) continue;
            // As sets: two neighbours a float rounding apart may trade places inside the k, not across its edge.
            var expected = Enumerable.Range(0, vectors.Length).OrderByDescending(d => Cosine(query, vectors[d])).Take(k).Select(d => $"d{d}#0");
            Assert.Equal(expected.Order(), result.Dense.Select(h => h.ChunkId).Order());
            Assert.True(result.Dense.Zip(result.Dense.Skip(1)).All(p => p.First.Score >= p.Second.Score), "hits best first");
        }
    }
}

/// <summary>What a shard refuses, it refuses before anything changes in memory, and its caller hears why.</summary>
public sealed class ShardRefusalTests
{
    private static ChunkRecord Chunk(string doc, float[] vector) => new($"{doc}#0", doc, 0, 0, 1, $"text of {doc}", [], [], vector);

    [Fact]
    public async Task A_vector_of_another_dimension_fails_its_write_with_the_reason_and_leaves_nothing_behind()
    {
        await using var cluster = await RagTestCluster.StartAsync(1);
        await cluster.Grains.GetGrain<ICollectionGrain>("t.dims").Create(new CollectionSettings(1, 256, 0) { Dimensions = 4 });
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>("t.dims/0");
        await shard.UpsertMany([new ShardUpsert("a", 1, [Chunk("a", [1, 0, 0, 0])])]);

        var refused = await Assert.ThrowsAsync<InvalidRequestException>(() => shard.Upsert("b", 1, [Chunk("b", [0, 1, 0])]));
        Assert.Contains("3 dimensions", refused.Message);
        Assert.Empty(await shard.Versions(["b"])); // not held: its document is not told "done", and a retry is not skipped as stale
        Assert.Equal((1, 1), (await shard.GetStats()) is var stats ? (stats.Chunks, stats.Vectors) : default);

        await shard.Upsert("b", 1, [Chunk("b", [0, 1, 0, 0])]);
        Assert.Equal("b#0", (await shard.Search(new ShardQuery([0, 1, 0, 0], null, 1, 16, null))).Dense.Single().ChunkId);
    }
}
