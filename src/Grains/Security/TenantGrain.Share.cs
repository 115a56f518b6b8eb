using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Security;

// A tenant's share: the limits, and the writes set aside against them. What each collection holds is counted by the
// collection itself, durably with its registry (so it stays right through crashes, deletes and reshards); this grain
// only adds up the collections' counts and the writes in flight, which it keeps in memory.
public sealed partial class TenantGrain
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1), Recount = TimeSpan.FromSeconds(10);
    private readonly Dictionary<long, (string Collection, StoredUsage Growth, DateTime Until)> _reserved = [];
    private readonly Dictionary<string, DateTime> _admitting = new(StringComparer.Ordinal);
    // What each collection held when last asked (and when). Not below what it holds: a write counts here (reserved) until
    // its release has asked its collection again, and a delete only lowers what the collection holds. So it may be high,
    // and a write it would refuse is checked again against fresh counts first. (A write that began just before the limits
    // were set was not reserved: so no count is trusted for longer than Recount.)
    private Dictionary<string, (StoredUsage Held, DateTime At)>? _held;
    private long _lastReservation;

    private TenantLimits Limits => _state.Current.Limits ?? TenantLimits.None;

    public Task<TenantLimits> GetLimits() => Task.FromResult(Limits);

    public async Task SetLimits(TenantLimits limits)
    {
        if (limits.Problem() is { } bad) throw new InvalidRequestException(bad);
        await _state.UpdateAsync(s =>
        {
            s.Limits = limits.Any ? limits : null;
            return true;
        });
        _held = null; // counted afresh: the collections wrote without reservations while there were no limits
    }

    public Task AdmitCollection(string collection)
    {
        Lapse();
        if (Limits.Collections is not { } max || _state.Current.Collections.Contains(collection)) return Task.CompletedTask; // (it exists: a conflict follows)
        var count = _state.Current.Collections.Count + _admitting.Keys.Count(k => k != collection);
        if (count + 1 > max) throw new TenantLimitExceededException("collections", max, count, 1);
        _admitting[collection] = DateTime.UtcNow + Lease;
        return Task.CompletedTask;
    }

    public async Task<long> Reserve(string collection, StoredUsage growth)
    {
        var limits = Limits;
        if (limits is { Documents: null, Vectors: null, Bytes: null } || growth.IsZero) return 0;
        Lapse();
        var held = await HeldAsync(collection, fresh: false);
        if (Exceeded(limits, held, growth) is not null && Exceeded(limits, await HeldAsync(collection, fresh: true), growth) is { } refused) throw refused;
        _reserved[++_lastReservation] = (collection, growth, DateTime.UtcNow + Lease);
        return _lastReservation;
    }

    public async Task Release(long reservation)
    {
        if (!_reserved.TryGetValue(reservation, out var r)) return;
        try
        {
            // Asked before the reservation goes, so the write always counts in one of the two.
            if (_held is not null) _held[r.Collection] = (await Collection(r.Collection).Held(), DateTime.UtcNow);
        }
        catch (Exception)
        {
            _held?.Remove(r.Collection); // asked again when next needed
        }
        _reserved.Remove(reservation);
    }

    public async Task<TenantUsage> Usage()
    {
        var held = await HeldAsync(null, fresh: true);
        var total = held.Values.Aggregate(StoredUsage.Zero, (a, b) => a + b);
        return new TenantUsage(this.GetPrimaryKeyString(), _state.Current.Collections.Count, total, held, Limits);
    }

    /// <summary>What the collections hold (those asked before, as then, unless <paramref name="fresh"/>), the one written to included.</summary>
    private async Task<Dictionary<string, StoredUsage>> HeldAsync(string? writing, bool fresh)
    {
        if (fresh) _held = null;
        _held ??= new Dictionary<string, (StoredUsage, DateTime)>(StringComparer.Ordinal);
        var stale = DateTime.UtcNow - Recount;
        var missing = _state.Current.Collections.Append(writing).OfType<string>().Distinct()
            .Where(c => !_held.TryGetValue(c, out var known) || known.At < stale).ToList();
        var asked = await Task.WhenAll(missing.Select(Collection).Select(c => c.Held()));
        for (var i = 0; i < missing.Count; i++) _held[missing[i]] = (asked[i], DateTime.UtcNow);
        return _held.ToDictionary(c => c.Key, c => c.Value.Held, StringComparer.Ordinal);
    }

    private TenantLimitExceededException? Exceeded(TenantLimits limits, IReadOnlyDictionary<string, StoredUsage> held, StoredUsage growth)
    {
        var total = held.Values.Concat(_reserved.Values.Select(r => r.Growth)).Aggregate(StoredUsage.Zero, (a, b) => a + b);
        static TenantLimitExceededException? Over(string name, long? max, long usage, long adds) =>
            max is { } m && adds > 0 && usage + adds > m ? new TenantLimitExceededException(name, m, usage, adds) : null;
        return Over("documents", limits.Documents, total.Documents, growth.Documents)
            ?? Over("vectors", limits.Vectors, total.Vectors, growth.Vectors)
            ?? Over("bytes", limits.Bytes, total.Bytes, growth.Bytes);
    }

    // A reservation whose writer never released it (its silo died) lapses, and what its collection holds is asked again.
    private void Lapse()
    {
        var now = DateTime.UtcNow;
        foreach (var (id, r) in _reserved.Where(r => r.Value.Until < now).ToList())
        {
            _reserved.Remove(id);
            _held?.Remove(r.Collection);
        }
        foreach (var name in _admitting.Where(a => a.Value < now).Select(a => a.Key).ToList()) _admitting.Remove(name);
    }

    private ICollectionRegistryGrain Collection(string name) => GrainFactory.GetGrain<ICollectionRegistryGrain>(TenantScope.CollectionKey(this.GetPrimaryKeyString(), name));
}
