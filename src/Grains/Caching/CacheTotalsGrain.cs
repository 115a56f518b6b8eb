using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Caching;

namespace RagCluster.Grains.Caching;

/// <summary>The query cache's counters (<see cref="ICacheTotalsGrain"/>): this silo's L1 and every partition's L2 and L3.</summary>
[Reentrant, StatelessWorker(1)]
public sealed class CacheTotalsGrain(QueryCache l1) : Grain, ICacheTotalsGrain
{
    public async Task<CacheTotals> Totals()
    {
        var partitions = await Task.WhenAll(Enumerable.Range(0, CacheGrain.Partitions).Select(i => GrainFactory.GetGrain<ICacheGrain>($"cache/{i}").GetStats()));
        return new CacheTotals(l1.Hits, l1.Misses, l1.Count,
            partitions.Sum(p => p.L2Hits), partitions.Sum(p => p.L3Hits), partitions.Sum(p => p.Misses), partitions.Sum(p => p.Entries));
    }
}
