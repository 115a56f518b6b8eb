using RagCluster.Grains.Interfaces.Rag;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;
using RagCluster.Grains.Placement;

namespace RagCluster.Grains.Caching;

[GenerateSerializer, Alias("rc.CacheState")]
public sealed class CacheState
{
    [Id(0)] public Dictionary<string, SearchResponse> Entries { get; set; } = [];
}

/// <summary>
/// One partition of the cluster-wide result cache. L2 is this activation's memory; L3 is its stored state,
/// flushed every few seconds when changed and on deactivation, so a partition that moves to another silo (or
/// a restarted cluster) starts warm. Keys carry the collection version, so stale entries are never served;
/// they are evicted oldest first once the partition is full.
/// </summary>
public sealed record CacheTotals(long L2Hits, long L3Hits, long Misses, long Entries);

[RendezvousPlacement]
public sealed class CacheGrain([PersistentState("cache")] IPersistentState<CacheState> state, HomeSilo home) : Grain, ICacheGrain
{
    public const int Partitions = 16;
    private const int Capacity = 512;

    private readonly LinkedList<string> _order = new();
    private readonly Dictionary<string, LinkedListNode<string>> _nodes = new(StringComparer.Ordinal);
    private HashSet<string> _fromStore = new(StringComparer.Ordinal);
    private bool _dirty;
    private long _l2Hits, _l3Hits, _misses, _writes;

    public static string PartitionOf(string key) => $"cache/{StableHash.Of(key) % Partitions}";

    /// <summary>L2 and L3 counters summed over every partition (for /v1/cache and the dashboard).</summary>
    public static async Task<CacheTotals> TotalsAsync(IGrainFactory grains)
    {
        var partitions = await Task.WhenAll(Enumerable.Range(0, Partitions).Select(i => grains.GetGrain<ICacheGrain>($"cache/{i}").GetStats()));
        return new CacheTotals(partitions.Sum(p => p.L2Hits), partitions.Sum(p => p.L3Hits), partitions.Sum(p => p.Misses), partitions.Sum(p => p.Entries));
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var key in state.State.Entries.Keys) _nodes[key] = _order.AddLast(key);
        _fromStore = [.. state.State.Entries.Keys];
        this.RegisterGrainTimer(async ct => { if (_dirty) await Flush(ct); }, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        home.Follow(this); // spread onto silos that join (the entries travel with the partition)
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) =>
        _dirty ? Flush(cancellationToken) : Task.CompletedTask;

    private async Task Flush(CancellationToken ct)
    {
        _dirty = false;
        try
        {
            await state.WriteStateAsync(ct);
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
        if (!state.State.Entries.TryGetValue(key, out var value))
        {
            _misses++;
            return Task.FromResult(new CacheLookup(false, null, "miss"));
        }
        var node = _nodes[key];
        _order.Remove(node);
        _order.AddFirst(node);
        var tier = _fromStore.Remove(key) ? "L3" : "L2"; // first use of an entry loaded from the store counts for L3
        if (tier == "L3") _l3Hits++; else _l2Hits++;
        return Task.FromResult(new CacheLookup(true, value, tier));
    }

    public Task Set(string key, SearchResponse value)
    {
        if (_nodes.Remove(key, out var old)) _order.Remove(old);
        state.State.Entries[key] = value;
        _nodes[key] = _order.AddFirst(key);
        while (_nodes.Count > Capacity)
        {
            var last = _order.Last!.Value;
            _order.RemoveLast();
            _nodes.Remove(last);
            state.State.Entries.Remove(last);
        }
        _writes++;
        _dirty = true;
        return Task.CompletedTask;
    }

    public Task<CacheStats> GetStats() =>
        Task.FromResult(new CacheStats(this.GetPrimaryKeyString(), _nodes.Count, _l2Hits, _l3Hits, _misses, _writes));
}
