using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Grains.Caching;

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
