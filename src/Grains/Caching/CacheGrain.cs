using RagCluster.Grains.Interfaces.Rag;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using RagCluster.Grains.Placement;
using RagCluster.Storage.GrainRows;

namespace RagCluster.Grains.Caching;

/// <summary>One stored entry: its row key is a hash of <see cref="Key"/> (a query can be far longer than an index key may be).</summary>
[GenerateSerializer, Immutable, Alias("rc.CacheRow")]
public sealed record CacheRow(string Key, SearchResponse Value);

/// <summary>
/// One partition of the cluster-wide result cache. L2 is this activation's memory; L3 is its stored rows, one per
/// entry, so a partition that moves to another silo (or a restarted cluster) starts warm. Every few seconds the
/// entries set or evicted since the last flush are written, and only those: a write costs what changed, not the
/// whole partition. Keys carry the collection version, so stale entries are never served; they are evicted oldest
/// first once the partition is full: 512 entries or <see cref="CacheOptions.PartitionBytes"/>, whichever comes first
/// (by count alone, scifact's topK-100 answers grew the store to 983 MB, which every restart read back whole).
/// </summary>
public sealed record CacheTotals(long L2Hits, long L3Hits, long Misses, long Entries);

[RendezvousPlacement]
public sealed class CacheGrain([PersistentRows("cache")] IPersistentRows rows, Serializer serializer, HomeSilo home, IOptions<CacheOptions> options) : Grain, ICacheGrain
{
    public const int Partitions = 16;
    private const int Capacity = 512;
    private const string Entries = "entries";

    private readonly Dictionary<string, (SearchResponse Value, long Bytes)> _entries = new(StringComparer.Ordinal);
    private readonly long _maxBytes = options.Value.PartitionBytes;
    private long _bytes;
    private readonly LinkedList<string> _order = new();
    private readonly Dictionary<string, LinkedListNode<string>> _nodes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal); // set or evicted since the last flush
    private HashSet<string> _fromStore = new(StringComparer.Ordinal);
    private long _l2Hits, _l3Hits, _misses, _writes;
    private long _rowsWritten; // by this activation's flushes: what a flush costs (CacheStats.RowsWritten)

    public static string PartitionOf(string key) => $"cache/{StableHash.Of(key) % Partitions}";

    /// <summary>L2 and L3 counters summed over every partition (for /v1/cache and the dashboard).</summary>
    public static async Task<CacheTotals> TotalsAsync(IGrainFactory grains)
    {
        var partitions = await Task.WhenAll(Enumerable.Range(0, Partitions).Select(i => grains.GetGrain<ICacheGrain>($"cache/{i}").GetStats()));
        return new CacheTotals(partitions.Sum(p => p.L2Hits), partitions.Sum(p => p.L3Hits), partitions.Sum(p => p.Misses), partitions.Sum(p => p.Entries));
    }

    private static string RowKey(string key) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await rows.ReadAsync(cancellationToken);
        for (string? after = null; ;)
        {
            var page = await rows.PageAsync(Entries, after, 256, cancellationToken);
            foreach (var (_, value) in page)
                if (serializer.Deserialize<CacheRow>(value) is { } row && !_entries.ContainsKey(row.Key))
                {
                    _nodes[row.Key] = _order.AddLast(row.Key);
                    Add(row.Key, row.Value);
                }
            if (page.Count < 256) break;
            after = page[^1].Key;
        }
        EvictPastBounds(); // a store written under larger bounds (or by count alone) shrinks to these
        _fromStore = [.. _entries.Keys];
        this.RegisterGrainTimer(async ct => { if (_changed.Count > 0) await Flush(ct); }, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        home.Follow(this); // spread onto silos that join (the entries travel with the partition)
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) =>
        _changed.Count > 0 ? Flush(cancellationToken) : Task.CompletedTask;

    private async Task Flush(CancellationToken ct)
    {
        var changes = _changed.Select(key => new RowChange(Entries, RowKey(key),
            _entries.TryGetValue(key, out var entry) ? serializer.SerializeToArray(new CacheRow(key, entry.Value)) : null)).ToList();
        _changed.Clear();
        try
        {
            await rows.WriteAsync([], changes, ct);
            _rowsWritten += changes.Count;
        }
        catch
        {
            // The write may have failed before or after it committed: this activation goes (its unflushed entries are only
            // cached answers), and the next one holds exactly what storage has.
            this.DeactivateOnIdle();
            throw;
        }
    }

    public Task<CacheLookup> Get(string key)
    {
        if (!_entries.TryGetValue(key, out var entry))
        {
            _misses++;
            return Task.FromResult(new CacheLookup(false, null, "miss"));
        }
        var node = _nodes[key];
        _order.Remove(node);
        _order.AddFirst(node);
        var tier = _fromStore.Remove(key) ? "L3" : "L2"; // first use of an entry loaded from the store counts for L3
        if (tier == "L3") _l3Hits++; else _l2Hits++;
        return Task.FromResult(new CacheLookup(true, entry.Value, tier));
    }

    public Task Set(string key, SearchResponse value)
    {
        if (_nodes.Remove(key, out var old)) _order.Remove(old);
        Add(key, value);
        _nodes[key] = _order.AddFirst(key);
        _changed.Add(key);
        EvictPastBounds();
        _writes++;
        return Task.CompletedTask;
    }

    private void Add(string key, SearchResponse value)
    {
        if (_entries.Remove(key, out var old)) _bytes -= old.Bytes;
        var bytes = CachedBytes.Of(value);
        _entries[key] = (value, bytes);
        _bytes += bytes;
    }

    /// <summary>The oldest entries out until the partition is within both bounds; their rows go at the next flush.</summary>
    private void EvictPastBounds()
    {
        while (_nodes.Count > Capacity || _bytes > _maxBytes)
        {
            var last = _order.Last!.Value;
            _order.RemoveLast();
            _nodes.Remove(last);
            if (_entries.Remove(last, out var evicted)) _bytes -= evicted.Bytes;
            _changed.Add(last);
        }
    }

    public Task<CacheStats> GetStats() =>
        Task.FromResult(new CacheStats(this.GetPrimaryKeyString(), _nodes.Count, _l2Hits, _l3Hits, _misses, _writes) { RowsWritten = _rowsWritten });
}
