namespace RagCluster.Grains.Caching;

/// <summary>
/// The least recently used entries out first, past a count or a byte total (each entry's size given with it): the
/// bookkeeping of both cache tiers, the silo's L1 and a shared partition. Not thread-safe; L1 holds a lock around it,
/// a partition is a grain. Hand-written: .NET's MemoryCache with a size limit refuses an entry that does not fit and
/// compacts in the background, where a cache of answers should drop its oldest at once.
/// </summary>
public sealed class BoundedLru<TValue>(int capacity, long maxBytes)
{
    private readonly record struct Entry(string Key, TValue Value, long Bytes);

    private readonly Dictionary<string, LinkedListNode<Entry>> _map = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _order = new(); // most recently used first

    public int Count => _map.Count;
    public long Bytes { get; private set; }
    public IEnumerable<string> Keys => _map.Keys;

    /// <summary>The value, now the most recently used.</summary>
    public bool TryGet(string key, out TValue value)
    {
        if (!_map.TryGetValue(key, out var node))
        {
            value = default!;
            return false;
        }
        _order.Remove(node);
        _order.AddFirst(node);
        value = node.Value.Value;
        return true;
    }

    /// <summary>The value, its place in the order unchanged (a flush reads what to write, it does not use the entry).</summary>
    public bool TryPeek(string key, out TValue value)
    {
        var found = _map.TryGetValue(key, out var node);
        value = found ? node!.Value.Value : default!;
        return found;
    }

    /// <summary>
    /// Sets <paramref name="key"/> as the most recently used, then evicts past the bounds, telling <paramref name="evicted"/>
    /// each key. A value larger than the byte bound alone is not kept (nor an older value of its key): it would have
    /// emptied the cache on its way in.
    /// </summary>
    public void Set(string key, TValue value, long bytes, Action<string>? evicted = null)
    {
        Remove(key);
        if (bytes > maxBytes)
        {
            evicted?.Invoke(key);
            return;
        }
        _map[key] = _order.AddFirst(new Entry(key, value, bytes));
        Bytes += bytes;
        Trim(evicted);
    }

    /// <summary>
    /// Adds an entry as the least recently used, without evicting (entries read back from a store, in their stored order;
    /// <see cref="Trim"/> once they are all in). An entry already present stays as it is.
    /// </summary>
    public bool AddOldest(string key, TValue value, long bytes)
    {
        if (_map.ContainsKey(key)) return false;
        _map[key] = _order.AddLast(new Entry(key, value, bytes));
        Bytes += bytes;
        return true;
    }

    /// <summary>Evicts the least recently used entries until both bounds hold.</summary>
    public void Trim(Action<string>? evicted = null)
    {
        while (_map.Count > capacity || Bytes > maxBytes)
        {
            var oldest = _order.Last!.Value;
            Remove(oldest.Key);
            evicted?.Invoke(oldest.Key);
        }
    }

    private void Remove(string key)
    {
        if (!_map.Remove(key, out var node)) return;
        _order.Remove(node);
        Bytes -= node.Value.Bytes;
    }
}
