using Microsoft.Extensions.Options;
using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Caching;
using RagCluster.Grains.Interfaces.Querying;
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
/// (an answer's size varies a hundredfold with topK and chunk length, so a count alone does not bound the store).
/// </summary>
[RendezvousPlacement]
public sealed class CacheGrain([PersistentRows("cache")] IPersistentRows rows, Serializer serializer, HomeSilo home, IOptions<CacheOptions> options) : Grain, ICacheGrain
{
    public const int Partitions = 16;
    private const int Capacity = 512;
    private const string Entries = "entries";

    private readonly BoundedLru<SearchResponse> _entries = new(Capacity, options.Value.PartitionBytes);
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal); // set or evicted since the last flush
    private HashSet<string> _fromStore = new(StringComparer.Ordinal);
    private long _l2Hits, _l3Hits, _misses, _writes;
    private long _rowsWritten; // by this activation's flushes: what a flush costs (CacheStats.RowsWritten)

    public static string PartitionOf(string key) => $"cache/{StableHash.Of(key) % Partitions}";

    private static string RowKey(string key) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await rows.ReadAsync(cancellationToken);
        for (string? after = null; ;)
        {
            var page = await rows.PageAsync(Entries, after, 256, cancellationToken);
            foreach (var (_, value) in page)
                if (serializer.Deserialize<CacheRow>(value) is { } row) _entries.AddOldest(row.Key, row.Value, CachedBytes.Of(row.Value));
            if (page.Count < 256) break;
            after = page[^1].Key;
        }
        _entries.Trim(Evicted); // a store written under larger bounds (or by count alone) shrinks to these
        _fromStore = [.. _entries.Keys];
        this.RegisterGrainTimer(async ct => { if (_changed.Count > 0) await Flush(ct); }, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        home.Follow(this); // spread onto silos that join (the entries travel with the partition)
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) =>
        _changed.Count > 0 ? Flush(cancellationToken) : Task.CompletedTask;

    private async Task Flush(CancellationToken ct)
    {
        var changes = _changed.Select(key => new RowChange(Entries, RowKey(key),
            _entries.TryPeek(key, out var value) ? serializer.SerializeToArray(new CacheRow(key, value)) : null)).ToList();
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
        if (!_entries.TryGet(key, out var value))
        {
            _misses++;
            return Task.FromResult(new CacheLookup(false, null, "miss"));
        }
        var tier = _fromStore.Remove(key) ? "L3" : "L2"; // first use of an entry loaded from the store counts for L3
        if (tier == "L3") _l3Hits++; else _l2Hits++;
        return Task.FromResult(new CacheLookup(true, value, tier));
    }

    public Task Set(string key, SearchResponse value)
    {
        _entries.Set(key, value, CachedBytes.Of(value), Evicted);
        _changed.Add(key);
        _writes++;
        return Task.CompletedTask;
    }

    /// <summary>An entry evicted past the bounds: its row goes at the next flush.</summary>
    private void Evicted(string key) => _changed.Add(key);

    public Task<CacheStats> GetStats() =>
        Task.FromResult(new CacheStats(this.GetPrimaryKeyString(), _entries.Count, _l2Hits, _l3Hits, _misses, _writes) { RowsWritten = _rowsWritten });
}
