namespace RagCluster.Grains.Indexing;

/// <summary>
/// Removed documents' versions, so that a write of an older version still on its way (a pass or bulk write cut off by a
/// crash, a reshard's page read before the removal) is ignored. Such a write is a grain call, which Orleans drops once
/// older than the call timeout, so a tombstone only needs to outlive that: they are kept in two generations, and the
/// older is dropped each retention period, so each lives one to two periods. Reads never rotate: a snapshot enumerates on another thread
/// while searches read; only the shard's writer changes this, between snapshots.
/// </summary>
public sealed class Tombstones(TimeSpan retention, TimeProvider clock)
{
    private Dictionary<string, long> _current = new(StringComparer.Ordinal), _previous = new(StringComparer.Ordinal);
    private DateTimeOffset _rotated = clock.GetUtcNow();

    public int Count => _current.Count + _previous.Count;

    public bool TryGet(string documentId, out long version) =>
        _current.TryGetValue(documentId, out version) || _previous.TryGetValue(documentId, out version);

    public void Set(string documentId, long version)
    {
        Rotate();
        _previous.Remove(documentId);
        _current[documentId] = version;
    }

    public void Remove(string documentId)
    {
        _current.Remove(documentId);
        _previous.Remove(documentId);
    }

    public void Clear()
    {
        _current.Clear();
        _previous.Clear();
    }

    /// <summary>Every tombstone held (a document is in one generation at most).</summary>
    public IEnumerable<KeyValuePair<string, long>> All => _previous.Concat(_current);

    /// <summary>Drops the generation older than the retention period; the writer calls it before it changes anything.</summary>
    public void Rotate()
    {
        var now = clock.GetUtcNow();
        if (now - _rotated < retention) return;
        // Past two periods both generations are old enough to go.
        _previous = now - _rotated >= 2 * retention ? new(StringComparer.Ordinal) : _current;
        _current = new(StringComparer.Ordinal);
        _rotated = now;
    }
}
