using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Rag;

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
    private readonly Dictionary<string, LinkedListNode<(string Key, SearchResponse Value, long Bytes)>> _map = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Key, SearchResponse Value, long Bytes)> _lru = new();
    private readonly Lock _lock = new();
    private long _hits, _misses, _bytes;

    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);
    public int Count { get { lock (_lock) return _map.Count; } }

    public bool TryGet(string key, out SearchResponse value)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var node))
            {
                var v = node.Value.Value;
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

    public void Set(string key, SearchResponse value)
    {
        var bytes = CachedBytes.Of(value);
        lock (_lock)
        {
            if (_map.Remove(key, out var old))
            {
                _lru.Remove(old);
                _bytes -= old.Value.Bytes;
            }
            _map[key] = _lru.AddFirst((key, value, bytes));
            _bytes += bytes;
            while (_map.Count > capacity || _bytes > maxBytes)
            {
                var last = _lru.Last!;
                _lru.RemoveLast();
                _map.Remove(last.Value.Key);
                _bytes -= last.Value.Bytes;
            }
        }
    }
}
