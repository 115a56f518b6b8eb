using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Grains.Interfaces.Caching;

/// <summary>Key: "cache/N", N = hash(query key) % partitions. L2 (memory) backed by L3 (its stored state).</summary>
[Alias("rc.ICacheGrain")]
public interface ICacheGrain : IGrainWithStringKey
{
    Task<CacheLookup> Get(string key);
    Task Set(string key, SearchResponse value);
    Task<CacheStats> GetStats();
}
