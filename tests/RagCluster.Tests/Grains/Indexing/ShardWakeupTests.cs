using RagCluster.Grains.Interfaces.Security;
using Orleans;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>A restart's shard loads (issue 73, item 3): which shards wake, and which load goes first.</summary>
[Collection("cluster")]
public sealed class ShardWakeupTests
{
    [Fact]
    public async Task A_load_a_request_waits_on_goes_first_and_the_wake_ups_next_loads_wait_for_it()
    {
        var order = new ShardLoadOrder();
        order.Waking("c/1");
        var asked = await order.EnterAsync("c/0", default); // no wake-up asked for it: a request did
        var woken = order.EnterAsync("c/1", default).AsTask();
        await Task.Delay(100);
        Assert.False(woken.IsCompleted); // the wake-up's load waits while the request's runs
        Assert.Equal(1, order.AskedLoads);
        asked.Dispose();
        (await woken.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        order.Woken("c/1");
        Assert.Equal(0, order.AskedLoads);
        // With no request's load running, the wake-up's go at once.
        order.Waking("c/2");
        Assert.True(order.EnterAsync("c/2", default).IsCompleted);
    }

    [Fact]
    public async Task A_restart_just_after_a_reshard_wakes_the_new_shards_and_leaves_the_replaced_ones_asleep()
    {
        var serviceId = "wake-" + Guid.NewGuid().ToString("N")[..6];
        // The old shards retire an hour after the switch: a kill before then leaves them stored.
        var settings = new Dictionary<string, string?>
        {
            ["Embedding:ModelDirectory"] = RepoPaths.TestModel, ["Reshard:ProgressEvery"] = "00:00:00", ["Reshard:RetireAfter"] = "01:00:00",
        };
        await using var cluster = await RagTestCluster.StartAsync(1, null, settings, serviceId);
        var collection = cluster.Grains.GetGrain<ICollectionGrain>("t.wake");
        var oldShards = (await collection.Create(new CollectionSettings(2, 256, 32) { Dimensions = 4 })).Layout.ShardKeys("t.wake").ToList();
        var documents = Enumerable.Range(0, 20).Select(i => ($"d{i}",
            new IngestRequest(OwnVectorChunks.Format, OwnVectorChunks.Encode([new OwnVectorChunk($"chunk {i}", [1, i, 0, 0])], 4), [], null))).ToList();
        Assert.All(await DocumentBatch.IngestAsync(cluster.Grains, "t.wake", documents, ReadAccess.All, default), r => Assert.Null(r.Refusal));
        await Poll.UntilAsync(async () => (await collection.GetInfo()).DocumentCount == 20);
        await collection.Configure(new CollectionSettings(4, 256, 32) { Dimensions = 4 });
        await Poll.UntilAsync(async () => (await collection.GetInfo()).Resharding is null);
        var newShards = (await collection.GetSettings()).Layout.ShardKeys("t.wake").ToList();
        Assert.Equal(4, newShards.Count);
        await cluster.KillAsync(cluster.Cluster.Primary!);

        await using var second = await RagTestCluster.StartAsync(1, cluster.Storage, settings, serviceId);
        async Task<HashSet<string>> ActiveShards() =>
            (await second.Grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics())
                .Where(s => s.GrainType.Contains("IndexShardGrain", StringComparison.Ordinal)).Select(s => s.GrainId.Key.ToString()!).ToHashSet();
        await Poll.UntilAsync(async () => (await ActiveShards()).IsSupersetOf(newShards));
        var active = await ActiveShards();
        Assert.DoesNotContain(oldShards[0], active);
        Assert.DoesNotContain(oldShards[1], active);
        var hits = (await second.Grains.GetGrain<IQueryPlanGrain>("t.wake").Search(new SearchRequest("", 20, null, null) { Vector = [1, 5, 0, 0] })).Hits;
        Assert.Equal(20, hits.Select(h => h.DocumentId).Distinct().Count());
        Assert.DoesNotContain(oldShards[0], await ActiveShards()); // the search read the new layout only
    }
}
