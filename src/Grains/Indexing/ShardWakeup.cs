using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Storage.GrainLogs;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// Once this silo is active, wakes every shard whose log the store holds (each loads where its placement puts it), so
/// that after a restart the shards load beside the rest of start-up rather than under the first search (issue 60). A
/// silo that joins a running cluster finds them awake already. <c>Shards:WakeOnStart</c> (true) turns it off.
/// </summary>
public sealed class ShardWakeup(IGrainLogStore logs, IGrainFactory grains, IndexingThreads cpu, ShardLoadOrder order, IOptions<ShardOptions> options,
    ILogger<ShardWakeup> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) => lifecycle.Subscribe<ShardWakeup>(ServiceLifecycleStage.Active, ct =>
    {
        if (options.Value.WakeOnStart) _ = WakeAsync();
        return Task.CompletedTask;
    }, ct => Task.CompletedTask);

    private async Task WakeAsync()
    {
        try
        {
            var type = grains.GetGrain<IIndexShardGrain>("_").GetGrainId().Type;
            var stored = (await logs.GrainsAsync("shard")).Select(GrainId.Parse).Where(g => g.Type.Equals(type)).Select(g => g.Key.ToString()!).ToList();
            var shards = await InLayoutsAsync(stored);
            if (shards.Count == 0) return;
            using var loading = cpu.HoldForShardLoads(); // log tails are linked once every shard here serves
            var started = System.Diagnostics.Stopwatch.StartNew();
            // A load is CPU work: more at once than the cores only spreads them thinner.
            await Parallel.ForEachAsync(shards, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) },
                async (key, _) =>
                {
                    order.Waking(key); // its load goes after those a request waits on
                    try { await grains.GetGrain<IIndexShardGrain>(key).Settled(); }
                    finally { order.Woken(key); }
                });
            logger.StartStep($"{shards.Count} shard(s) woken and loaded ({stored.Count - shards.Count} replaced by a reshard left asleep)", started.Elapsed);
        }
        catch (Exception e)
        {
            logger.ShardWakeupFailed(e.Message); // a shard that did not wake loads at its first call, as before
        }
    }

    // The shards each collection reads or writes now. Those a reshard replaced wait a few seconds after the switch to
    // retire (Reshard:RetireAfter), and a kill in between left them stored: they serve no search, and waking them loaded
    // every old shard beside the new ones (a quarter of a restart's load work after a 4 to 8 reshard, issue 73).
    private async Task<List<string>> InLayoutsAsync(List<string> shards)
    {
        var byCollection = await Task.WhenAll(shards.GroupBy(key => key[..Math.Max(0, key.IndexOf('/'))]).Select(async group =>
        {
            try
            {
                var settings = await grains.GetGrain<ICollectionGrain>(group.Key).GetSettings();
                var current = settings.WriteLayouts.SelectMany(l => l.ShardKeys(group.Key)).ToHashSet();
                return group.Where(key => current.Contains(ShardLayout.ParseCopy(key).ShardKey)).ToList();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                return group.ToList(); // its layouts unknown: every shard wakes, as before
            }
        }));
        return [.. byCollection.SelectMany(g => g)];
    }
}
