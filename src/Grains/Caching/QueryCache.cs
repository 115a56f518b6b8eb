using RagCluster.Grains.Diagnostics;

namespace RagCluster.Grains.Caching;

/// <summary>Bound from "Cache".</summary>
public sealed class CacheOptions : RagCluster.Grains.Configuration.IValidatedOptions
{
    /// <summary>Query results each silo keeps in its L1 cache.</summary>
    public int L1Capacity { get; set; } = 4096;

    public void Validate()
    {
        if (L1Capacity is < 1 or > 10_000_000) throw new ArgumentException("Cache:L1Capacity must be 1..10000000");
    }
}

/// <summary>
/// L1: a per-silo LRU of query results. Keys carry the collection version, so an ingest or delete makes old
/// entries unreachable (they age out) instead of needing a cluster-wide purge.
/// </summary>
public sealed class QueryCache(int capacity = 4096)
{
    private readonly Dictionary<string, LinkedListNode<(string Key, object Value)>> _map = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Key, object Value)> _lru = new();
    private readonly Lock _lock = new();
    private long _hits, _misses;

    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);
    public int Count { get { lock (_lock) return _map.Count; } }

    public bool TryGet<T>(string key, out T value) where T : class
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var node) && node.Value.Value is T v)
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                _hits++;
                RagMetrics.CacheHits.Add(1, RagMetrics.Tag("tier", "L1"));
                value = v;
                return true;
            }
            _misses++;
            RagMetrics.CacheMisses.Add(1, RagMetrics.Tag("tier", "L1"));
            value = null!;
            return false;
        }
    }

    public void Set(string key, object value)
    {
        lock (_lock)
        {
            if (_map.Remove(key, out var old)) _lru.Remove(old);
            _map[key] = _lru.AddFirst((key, value));
            while (_map.Count > capacity)
            {
                var last = _lru.Last!;
                _lru.RemoveLast();
                _map.Remove(last.Value.Key);
            }
        }
    }
}
