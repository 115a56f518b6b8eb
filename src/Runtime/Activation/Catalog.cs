using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using RagCluster.Runtime.Hosting;
using RagCluster.Runtime.Membership;
using RagCluster.Runtime.Storage;

namespace RagCluster.Runtime.Activation;

/// <summary>
/// This silo's activations: creates them (after winning the grain directory), collects idle ones, and moves
/// away those a membership change gave to another silo.
/// </summary>
internal sealed class Catalog
{
    private readonly ConcurrentDictionary<GrainId, ActivationContext> _activations = new();
    private readonly ConcurrentDictionary<GrainId, StatelessWorkerPool> _workers = new();
    private readonly IServiceProvider _services;
    private readonly IClusterStore _store;
    private readonly MembershipService _membership;
    private readonly IGrainFactory _grainFactory;
    private readonly SiloOptions _options;
    private readonly ILogger _log;

    public Catalog(IServiceProvider services, IClusterStore store, MembershipService membership, IGrainFactory grainFactory, SiloOptions options, ILogger log)
    {
        _services = services;
        _store = store;
        _membership = membership;
        _grainFactory = grainFactory;
        _options = options;
        _log = log;
    }

    public int Count => _activations.Count + _workers.Values.Sum(p => p.Count);

    /// <summary>Activation counts by grain interface name, for status pages and tests.</summary>
    public IReadOnlyDictionary<string, int> CountByType() =>
        _activations.Keys.Select(k => k.Type)
            .Concat(_workers.SelectMany(w => Enumerable.Repeat(w.Key.Type, w.Value.Count)))
            .GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>Requests waiting for their activation's turn (routed there but not yet running), by grain type.</summary>
    public IReadOnlyDictionary<string, int> QueuedByType() =>
        _activations.Values.GroupBy(a => a.GrainId.Type).ToDictionary(g => g.Key, g => g.Sum(a => a.Queued));

    public bool TryGet(GrainId id, out ActivationContext activation) => _activations.TryGetValue(id, out activation!);

    /// <summary>The local activation of <paramref name="id"/>, starting one if there is none. Callers await <see cref="ActivationContext.Activated"/>.</summary>
    public ActivationContext GetOrCreate(GrainId id, GrainClass grainClass)
    {
        while (true)
        {
            if (_activations.TryGetValue(id, out var existing)) return existing;
            var created = NewContext(id, grainClass);
            if (!_activations.TryAdd(id, created)) continue;
            _ = ActivateAsync(created, registerInDirectory: true);
            return created;
        }
    }

    public StatelessWorkerPool GetWorkerPool(GrainId id, GrainClass grainClass) =>
        _workers.GetOrAdd(id, key => new StatelessWorkerPool(grainClass.MaxLocalWorkers, () =>
        {
            var context = NewContext(key, grainClass);
            _ = ActivateAsync(context, registerInDirectory: false);
            return context;
        }));

    private ActivationContext NewContext(GrainId id, GrainClass grainClass) =>
        new(id, grainClass, _grainFactory, _membership.SiloId, (a, reason) => DeactivateAsync(a, reason), _log);

    private async Task ActivateAsync(ActivationContext activation, bool registerInDirectory)
    {
        var id = activation.GrainId;
        try
        {
            if (registerInDirectory && await ClaimInDirectoryAsync(id) is { } holder)
            {
                // Another live silo still holds it (a handover in progress): the request goes there.
                activation.RedirectTo = holder;
                activation.State = ActivationState.Invalid;
                _activations.TryRemove(new KeyValuePair<GrainId, ActivationContext>(id, activation));
                activation.Activated.TrySetResult();
                activation.Deactivated.TrySetResult();
                return;
            }
            var loaders = new List<Func<CancellationToken, Task>>();
            var grain = activation.Class.Create(_services, _store, id, loaders);
            grain.Context = activation;
            activation.Instance = grain;
            using var cts = new CancellationTokenSource(_options.CallTimeout);
            await activation.RunTurnAsync(async () =>
            {
                foreach (var load in loaders) await load(cts.Token);
                await grain.OnActivateAsync(cts.Token);
            });
            activation.State = ActivationState.Valid;
            activation.Activated.TrySetResult();
        }
        catch (Exception e)
        {
            _log.LogWarning(e, "Activation of {Grain} failed", id);
            activation.State = ActivationState.Invalid;
            if (registerInDirectory)
            {
                _activations.TryRemove(new KeyValuePair<GrainId, ActivationContext>(id, activation));
                try { await _store.UnregisterAsync(id, _membership.SiloId); }
                catch (Exception ue) { _log.LogError(ue, "Could not unregister failed activation {Grain}", id); }
            }
            activation.Activated.TrySetException(e);
            activation.Deactivated.TrySetResult();
        }
    }

    /// <summary>Registers this silo as the grain's holder. Returns null if we hold it, else the live silo that does.</summary>
    private async Task<string?> ClaimInDirectoryAsync(GrainId id)
    {
        var self = _membership.SiloId;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var holder = await _store.RegisterAsync(id, self);
            if (holder == self) return null;
            var entry = _membership.Current.Find(holder);
            if (entry is null || entry.Status != SiloStatus.Dead)
            {
                // Our view may be older than the holder; decide on the table itself.
                await _membership.RefreshAsync(null, CancellationToken.None);
                entry = _membership.Current.Find(holder);
            }
            if (entry is not null && entry.Status != SiloStatus.Dead) return holder;
            // The holder is dead (or long gone): take its registration over, unless someone else just did.
            if (await _store.TryTakeOverAsync(id, self, holder)) return null;
        }
        throw new SiloUnavailableException($"could not settle which silo holds {id}; retry");
    }

    public Task DeactivateAsync(ActivationContext activation, DeactivationReason reason)
    {
        if (activation.Class.IsStatelessWorker)
        {
            return activation.DeactivateAsync(reason, _options.DeactivationTimeout, () =>
            {
                if (_workers.TryGetValue(activation.GrainId, out var pool)) pool.Remove(activation);
                return Task.CompletedTask;
            });
        }
        return activation.DeactivateAsync(reason, _options.DeactivationTimeout, async () =>
        {
            // Unregister before leaving the catalog so the next owner can claim the grain as soon as we are gone.
            if (activation.RedirectTo is null) await _store.UnregisterAsync(activation.GrainId, _membership.SiloId);
            _activations.TryRemove(new KeyValuePair<GrainId, ActivationContext>(activation.GrainId, activation));
        });
    }

    /// <summary>After a membership change, hands over every grain whose rendezvous owner is now another silo.</summary>
    public void OnViewChanged()
    {
        var view = _membership.Current;
        foreach (var activation in _activations.Values)
        {
            var owner = view.OwnerOf(activation.GrainId);
            if (owner is not null && owner.SiloId != _membership.SiloId)
                _ = DeactivateAsync(activation, DeactivationReason.Rebalancing);
        }
    }

    public async Task CollectIdleAsync()
    {
        var age = _options.CollectionAge;
        var idle = _activations.Values.Concat(_workers.Values.SelectMany(p => p.Snapshot()))
            .Where(a => a.State == ActivationState.Valid && !a.IsBusy && a.Load == 0 && a.IdleFor > age)
            .ToList();
        if (idle.Count > 0) _log.LogDebug("Collecting {Count} idle activation(s)", idle.Count);
        await Task.WhenAll(idle.Select(a => DeactivateAsync(a, DeactivationReason.Idle)));
    }

    public async Task DeactivateAllAsync(DeactivationReason reason)
    {
        var all = _activations.Values.Concat(_workers.Values.SelectMany(p => p.Snapshot())).ToList();
        // Bounded parallelism: each deactivation may write state to the store.
        await Parallel.ForEachAsync(all, new ParallelOptions { MaxDegreeOfParallelism = 32 },
            async (a, _) => await DeactivateAsync(a, reason));
    }

    /// <summary>Crash simulation: drop everything without hooks, persistence or unregistering.</summary>
    public void AbandonAll()
    {
        foreach (var a in _activations.Values.Concat(_workers.Values.SelectMany(p => p.Snapshot()))) a.Abandon();
        _activations.Clear();
        _workers.Clear();
    }
}

/// <summary>A silo-local pool of stateless-worker activations for one grain id.</summary>
internal sealed class StatelessWorkerPool(int max, Func<ActivationContext> create)
{
    private readonly List<ActivationContext> _workers = [];
    private readonly Lock _lock = new();

    public int Count
    {
        get { lock (_lock) return _workers.Count; }
    }

    public IReadOnlyList<ActivationContext> Snapshot()
    {
        lock (_lock) return _workers.ToArray();
    }

    /// <summary>
    /// An idle worker if there is one, a new one while under the limit, else the least loaded. The pick counts
    /// as load until the caller calls AddLoad(-1).
    /// </summary>
    public ActivationContext Pick()
    {
        var picked = PickUnderLock();
        picked.AddLoad(1);
        return picked;
    }

    private ActivationContext PickUnderLock()
    {
        lock (_lock)
        {
            _workers.RemoveAll(w => w.State == ActivationState.Invalid);
            var usable = _workers.Where(w => w.State is ActivationState.Valid or ActivationState.Activating).ToList();
            var idle = usable.FirstOrDefault(w => w.Load == 0);
            if (idle is not null) return idle;
            if (_workers.Count < max)
            {
                var created = create();
                _workers.Add(created);
                return created;
            }
            return usable.Count > 0 ? usable.MinBy(w => w.Load)! : _workers.MinBy(w => w.Load)!;
        }
    }

    public void Remove(ActivationContext activation)
    {
        lock (_lock) _workers.Remove(activation);
    }
}
