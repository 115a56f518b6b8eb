using Orleans;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Metadata;
using RagCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Raising a collection's shard count while it serves: searches keep answering, and documents written, rewritten and
/// deleted during the copy, or given new tags alone, end up in the new shards exactly once, at their last version.
/// </summary>
public sealed class ReshardTests(ITestOutputHelper output)
{
    private const int Dimensions = 8;

    private static float[] Vector(int document, int chunk)
    {
        var v = new float[Dimensions];
        v[document % Dimensions] = 1;
        v[(document + chunk + 1) % Dimensions] += 0.5f;
        v[chunk % Dimensions] += 0.25f + document * 0.001f;
        return v;
    }

    private static IngestRequest Document(int document, int chunks, string edition) => new(OwnVectorChunks.Format,
        OwnVectorChunks.Encode(Enumerable.Range(0, chunks).Select(c => new OwnVectorChunk($"{edition} document {document} chunk {c}", Vector(document, c))).ToList(), Dimensions),
        [], null);

    [Fact]
    public async Task Raising_the_shard_count_under_search_and_write_load_loses_and_duplicates_nothing_and_spreads_the_new_shards()
    {
        await using var cluster = await RagTestCluster.StartAsync(3, settings: new()
        {
            // Small copy steps, so the writes below land while it runs; old shards retire 1 s after the switch.
            ["Reshard:PageChunks"] = "16",
            ["Reshard:ProgressEvery"] = "00:00:00",
            ["Reshard:RetireAfter"] = "00:00:01",
        });
        var grains = cluster.Grains;
        var collection = grains.GetGrain<ICollectionGrain>("grow");
        var first = (await collection.Create(new CollectionSettings(2, 256, 32) { Dimensions = Dimensions })).Layout;
        var expected = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(); // document -> chunks it should have in the end (0: deleted)
        async Task Write(int document, int chunks, string edition)
        {
            await grains.GetGrain<IDocumentGrain>($"grow/d{document}").Ingest(Document(document, chunks, edition));
            expected[$"d{document}"] = chunks;
        }
        await Task.WhenAll(Enumerable.Range(0, 150).Select(d => Write(d, 3, "first"))); // together: the collection takes their notices in one write
        await SettledAsync(grains, expected.Keys);

        var searches = 0;
        var failures = new List<string>();
        using var stop = new CancellationTokenSource();
        var plans = grains.GetGrain<IQueryPlanGrain>("grow");
        var load = Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                try
                {
                    // Another vector each time, so no answer comes from the cache.
                    var hits = (await plans.Search(new SearchRequest("", 5, null, null) { Vector = Vector(n, w + n % 7) })).Hits;
                    if (hits.Length == 0) lock (failures) failures.Add("a search found nothing");
                    Interlocked.Increment(ref searches);
                }
                catch (Exception e)
                {
                    lock (failures) failures.Add($"{e.GetType().Name}: {e.Message}");
                }
            }
        })).ToArray();

        // 2 to 5, not a multiple: each new shard takes chunks from both old ones, so a document's chunks in one new shard
        // arrive in several merges.
        var configured = await collection.Configure(new CollectionSettings(5, 256, 32) { Dimensions = Dimensions });
        Assert.Equal(2, configured.ShardCount); // still served by the old shards
        Assert.Equal(5, configured.ReshardingTo?.ShardCount);
        Assert.NotNull((await collection.GetInfo()).Resharding);
        await Assert.ThrowsAsync<ConflictException>(() => collection.Configure(new CollectionSettings(6, 256, 32) { Dimensions = Dimensions }));

        // While it copies: rewrites with more and fewer chunks, deletes, and new documents.
        var writes = new List<Task>();
        for (var d = 0; d < 30; d++) writes.Add(Write(d, d % 2 == 0 ? 5 : 1, "second"));
        for (var d = 30; d < 60; d++)
        {
            writes.Add(grains.GetGrain<IDocumentGrain>($"grow/d{d}").Delete());
            expected[$"d{d}"] = 0;
        }
        for (var d = 150; d < 180; d++) writes.Add(Write(d, 2, "new"));
        for (var d = 60; d < 90; d++) writes.Add(grains.GetGrain<IDocumentGrain>($"grow/d{d}").UpdateTags(new() { ["edition"] = "retagged" })); // tags alone
        await Task.WhenAll(writes);
        var sawResharding = (await collection.GetInfo()).Resharding is not null;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        CollectionInfo info;
        while ((info = await collection.GetInfo()).Resharding is not null || info.Settings.ShardCount != 5)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), "the reshard did not finish in 120 s");
            await Task.Delay(200);
        }
        output.WriteLine($"reshard done after {clock.Elapsed.TotalSeconds:F1} s (writes ended {(sawResharding ? "before" : "after")} it); {searches} searches so far");
        await SettledAsync(grains, expected.Keys);
        await Task.Delay(1500); // past RetireAfter, so searches meet retired shards if they still go there
        stop.Cancel();
        await Task.WhenAll(load);

        Assert.Empty(failures);
        Assert.True(searches > 50, $"only {searches} searches ran");
        var layout = info.Settings.Layout;
        Assert.NotEqual(first.Generation, layout.Generation);
        var shards = layout.ShardKeys("grow").Select(k => grains.GetGrain<IIndexShardGrain>(k)).ToArray();
        var counts = new Dictionary<string, int>();
        foreach (var shard in shards)
            foreach (var (document, n) in await shard.ChunkCounts())
                counts[document] = counts.GetValueOrDefault(document) + n;
        foreach (var (document, chunks) in expected) Assert.True(counts.GetValueOrDefault(document) == chunks, $"{document}: {counts.GetValueOrDefault(document)} chunks, expected {chunks}");
        Assert.Equal(expected.Values.Sum(), (await Task.WhenAll(shards.Select(s => s.GetStats()))).Sum(s => s.Vectors));

        // The tag changes reached the new shards whole: every chunk of d60..d89 carries them, no other chunk does.
        var retagged = new List<string>();
        foreach (var shard in shards) retagged.AddRange(await shard.MatchingDocuments(FilterParser.ParseCanonical("""{"edition":"retagged"}""")!, null, 1000));
        Assert.Equal(Enumerable.Range(60, 30).Select(d => $"d{d}").Order(StringComparer.Ordinal), retagged.Distinct().Order(StringComparer.Ordinal));
        var untagged = new List<string>();
        foreach (var shard in shards) untagged.AddRange(await shard.MatchingDocuments(FilterParser.ParseCanonical("""{"edition":{"$exists":false}}""")!, null, 1000));
        Assert.Empty(untagged.Intersect(retagged));

        // The five new shards sit two, two and one on the three silos; the old ones are retired.
        var silos = (await Task.WhenAll(shards.Select(s => s.GetStats()))).GroupBy(s => s.Silo).Select(g => g.Count()).Order().ToArray();
        Assert.Equal([1, 2, 2], silos);
        var old = grains.GetGrain<IIndexShardGrain>(first.ShardKey("grow", 0));
        await Assert.ThrowsAsync<ShardLayoutChangedException>(() => old.Search(new ShardQuery(Vector(1, 1), null, 5, 0, null)));

        // A rewrite after the switch reaches the new shards alone, and the document reads the same everywhere.
        await Write(1, 4, "third");
        await SettledAsync(grains, ["d1"]);
        var total = 0;
        foreach (var shard in shards) total += (await shard.ChunkCounts()).GetValueOrDefault("d1");
        Assert.Equal(4, total);
    }

    [Fact]
    public async Task A_reshard_cut_off_by_a_crash_finishes_once_the_cluster_is_back_with_nothing_lost_or_duplicated()
    {
        var serviceId = "reshard-" + Guid.NewGuid().ToString("N")[..6];
        // One chunk a step and a stored position every 200 ms: the copy is in the middle when the silo dies.
        var settings = new Dictionary<string, string?>
        {
            ["Reshard:PageChunks"] = "1", ["Reshard:ParallelShards"] = "1", ["Reshard:ProgressEvery"] = "00:00:00.2", ["Reshard:RetireAfter"] = "00:00:00",
        };
        await using var first = await RagTestCluster.StartAsync(1, settings: settings, serviceId: serviceId);
        var collection = first.Grains.GetGrain<ICollectionGrain>("grow");
        await collection.Create(new CollectionSettings(3, 256, 32) { Dimensions = Dimensions });
        var ids = Enumerable.Range(0, 200).Select(d => $"d{d}").ToList();
        await Task.WhenAll(Enumerable.Range(0, 200).Select(d => first.Grains.GetGrain<IDocumentGrain>($"grow/d{d}").Ingest(Document(d, 3, "first"))));
        await SettledAsync(first.Grains, ids);
        await collection.Configure(new CollectionSettings(7, 256, 32) { Dimensions = Dimensions });
        ReshardProgress? progress;
        while ((progress = (await collection.GetInfo()).Resharding) is null or { ChunksCopied: < 100 }) await Task.Delay(20);
        Assert.True(progress.ChunksCopied < 600, "the copy ended before the crash");
        await first.KillAsync(first.Cluster.Primary!);

        settings["Reshard:PageChunks"] = "64"; // the stored position is a slot, so the rest may go in larger steps
        await using var second = await RagTestCluster.StartAsync(1, storage: first.Storage, settings: settings, serviceId: serviceId);
        var again = second.Grains.GetGrain<ICollectionGrain>("grow");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        CollectionInfo info;
        while ((info = await again.GetInfo()).Resharding is not null)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), "the reshard did not go on after the restart");
            await Task.Delay(100);
        }
        output.WriteLine($"{progress.ChunksCopied} chunks copied at the crash; done {clock.Elapsed.TotalSeconds:F1} s after the restart");
        Assert.Equal(7, info.Settings.ShardCount);
        var counts = new Dictionary<string, int>();
        foreach (var key in info.Settings.Layout.ShardKeys("grow"))
            foreach (var (document, n) in await second.Grains.GetGrain<IIndexShardGrain>(key).ChunkCounts())
                counts[document] = counts.GetValueOrDefault(document) + n;
        Assert.All(ids, id => Assert.Equal(3, counts.GetValueOrDefault(id)));
        Assert.Equal(600, counts.Values.Sum());
    }

    private static async Task SettledAsync(IGrainFactory grains, IEnumerable<string> ids)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var id in ids.ToList())
            while ((await grains.GetGrain<IDocumentGrain>($"grow/{id}").GetStatus()).Status == DocumentStatuses.Pending)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"{id} still pending after 120 s");
                await Task.Delay(50);
            }
    }
}
