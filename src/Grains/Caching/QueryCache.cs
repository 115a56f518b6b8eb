using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Grains.Caching;

/// <summary>Bound from "Cache".</summary>
public sealed class CacheOptions : RagCluster.Grains.Configuration.IValidatedOptions
{
    /// <summary>Query results each silo keeps in its L1 cache.</summary>
    public int L1Capacity { get; set; } = 4096;
    /// <summary>The most bytes (<see cref="CachedBytes"/>) of results each silo's L1 cache holds; the oldest go first past it.</summary>
    public long L1Bytes { get; set; } = 64L << 20;
    /// <summary>
    /// The most bytes of results one of the 16 shared cache partitions holds, in memory and stored alike; the oldest go
    /// first past it. A partition loads its stored entries whole when it activates (after a restart, or on another silo).
    /// </summary>
    public long PartitionBytes { get; set; } = 8L << 20;

    public void Validate()
    {
        if (L1Capacity is < 1 or > 10_000_000) throw new ArgumentException("Cache:L1Capacity must be 1..10000000");
        if (L1Bytes is < 1 << 16 or > 1L << 40) throw new ArgumentException("Cache:L1Bytes must be 65536..1099511627776");
        if (PartitionBytes is < 1 << 16 or > 1L << 36) throw new ArgumentException("Cache:PartitionBytes must be 65536..68719476736");
    }
}

/// <summary>
/// L1: a per-silo LRU of query results, bounded by count and by bytes. Keys carry the collection version, so an ingest or delete makes old
/// entries unreachable (they age out) instead of needing a cluster-wide purge.
/// </summary>
public sealed class QueryCache(int capacity = 4096, long maxBytes = 64L << 20)
{
    private readonly BoundedLru<SearchResponse> _entries = new(capacity, maxBytes);
    private readonly Lock _lock = new();
    private long _hits, _misses;

    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);
    public int Count { get { lock (_lock) return _entries.Count; } }

    public bool TryGet(string key, out SearchResponse value)
    {
        bool found;
        lock (_lock) found = _entries.TryGet(key, out value);
        if (found) Interlocked.Increment(ref _hits); else Interlocked.Increment(ref _misses);
        (found ? RagMetrics.CacheHits : RagMetrics.CacheMisses).Add(1, RagMetrics.Tag("tier", "L1"));
        return found;
    }

    public void Set(string key, SearchResponse value)
    {
        var bytes = CachedBytes.Of(value);
        lock (_lock) _entries.Set(key, value, bytes);
    }
}
