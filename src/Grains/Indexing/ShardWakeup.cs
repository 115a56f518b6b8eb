using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Storage.GrainLogs;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// Once this silo is active, wakes every shard whose log the store holds (each loads where its placement puts it), so
/// that after a restart the shards load beside the rest of start-up rather than under the first search (issue 60). A
/// silo that joins a running cluster finds them awake already. <c>Shards:WakeOnStart</c> (true) turns it off.
/// </summary>
public sealed class ShardWakeup(IGrainLogStore logs, IGrainFactory grains, IndexingThreads cpu, IOptions<ShardOptions> options, ILogger<ShardWakeup> logger)
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
            var shards = (await logs.GrainsAsync("shard")).Select(GrainId.Parse).Where(g => g.Type.Equals(type)).ToList();
            if (shards.Count == 0) return;
            using var loading = cpu.HoldForShardLoads(); // log tails are linked once every shard here serves
            var started = System.Diagnostics.Stopwatch.StartNew();
            // A load is CPU work: more at once than the cores only spreads them thinner.
            await Parallel.ForEachAsync(shards, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) },
                async (shard, _) => await grains.GetGrain<IIndexShardGrain>(shard.Key.ToString()!).Settled());
            logger.ShardsWoken(shards.Count, started.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            logger.ShardWakeupFailed(e.Message); // a shard that did not wake loads at its first call, as before
        }
    }
}
