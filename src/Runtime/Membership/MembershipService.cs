using Microsoft.Extensions.Logging;
using RagCluster.Runtime.Hosting;
using RagCluster.Runtime.Placement;
using RagCluster.Runtime.Storage;

namespace RagCluster.Runtime.Membership;

/// <summary>
/// Keeps this silo's view of the cluster: joins, heartbeats, declares silos that stopped beating dead,
/// and notices when it has itself been declared dead. All coordination goes through the versioned table.
/// </summary>
internal sealed class MembershipService : IAsyncDisposable
{
    private readonly IMembershipTable _table;
    private readonly IGrainDirectory _directory;
    private readonly SiloOptions _options;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private Task? _loop;
    private long _startedMs;
    private volatile bool _leaving;

    public MembershipService(IMembershipTable table, IGrainDirectory directory, SiloOptions options, ILogger log)
    {
        _table = table;
        _directory = directory;
        _options = options;
        _log = log;
    }

    public string SiloId { get; private set; } = "";
    public string Address { get; private set; } = "";
    public MembershipView Current { get; private set; } = MembershipView.Empty;

    /// <summary>Raised (off the caller's thread) with each newer view.</summary>
    public event Action<MembershipView>? ViewChanged;

    /// <summary>Raised once when the table says this silo is dead: it must stop serving at once.</summary>
    public event Action? DeclaredDead;

    public bool IsDeclaredDead { get; private set; }

    public async Task JoinAsync(string siloId, string address, CancellationToken ct)
    {
        SiloId = siloId;
        Address = address;
        _startedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await WriteSelfAsync(SiloStatus.Active, ct);
        _log.LogInformation("Silo {Silo} joined cluster {Cluster} at {Address}; view version {Version} with {Count} active silo(s)",
            SiloId, _options.ClusterId, Address, Current.Version, Current.ActiveSilos.Count());
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Marks this silo shutting down (no new placements here) or dead (gone).</summary>
    public Task WriteSelfAsync(SiloStatus status, CancellationToken ct)
    {
        // Our own leave is not a verdict of the others: seeing ourselves dead afterwards must not trigger a stop.
        if (status != SiloStatus.Active) _leaving = true;
        return UpdateEntryAsync(SiloId, Address, status, _startedMs, ct);
    }

    private async Task UpdateEntryAsync(string siloId, string address, SiloStatus status, long startedMs, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var snapshot = await _table.ReadAllAsync(ct);
            if (siloId != SiloId && snapshot.Entries.FirstOrDefault(e => e.SiloId == siloId) is { Status: SiloStatus.Dead }) return;
            if (await _table.TryWriteEntryAsync(siloId, address, status, startedMs, snapshot.Version, ct))
            {
                await RefreshAsync(snapshot.Version + 1, ct);
                return;
            }
            // Another silo changed the table first; re-read and try again on the newer version.
            await Task.Delay(Random.Shared.Next(5, 20 + Math.Min(attempt, 10) * 10), ct);
        }
    }

    /// <summary>Reads the table if our view is older than <paramref name="atLeastVersion"/> (any version if null).</summary>
    public async Task RefreshAsync(long? atLeastVersion, CancellationToken ct)
    {
        if (atLeastVersion is { } v && Current.Version >= v) return;
        await _refreshLock.WaitAsync(ct);
        try
        {
            if (atLeastVersion is { } again && Current.Version >= again) return;
            var snapshot = await _table.ReadAllAsync(ct);
            Apply(snapshot);
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private void Apply(MembershipSnapshot snapshot)
    {
        var previous = Current;
        if (snapshot.Version < previous.Version) return;
        var view = new MembershipView(snapshot.Version, snapshot.Entries);
        Current = view; // heartbeat ages change on every read; keep the freshest
        var self = view.Find(SiloId);
        if (SiloId.Length > 0 && self is { Status: SiloStatus.Dead } && !IsDeclaredDead && !_leaving && !_stop.IsCancellationRequested)
        {
            IsDeclaredDead = true;
            _log.LogCritical("Silo {Silo} finds itself declared dead in the membership table; stopping", SiloId);
            ThreadPool.QueueUserWorkItem(_ => DeclaredDead?.Invoke());
        }
        if (snapshot.Version > previous.Version)
        {
            _log.LogInformation("Membership view {Version}: {Silos}", view.Version,
                string.Join(", ", view.Entries.Select(e => $"{e.SiloId}={e.Status}")));
            ThreadPool.QueueUserWorkItem(_ => ViewChanged?.Invoke(view));
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var nextPrune = DateTime.UtcNow;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.HeartbeatPeriod, ct);
                await _table.HeartbeatAsync(SiloId, ct);
                var snapshot = await _table.ReadAllAsync(ct);
                Apply(snapshot);
                if (!IsDeclaredDead) await DeclareSilentSilosDeadAsync(snapshot, ct);
                if (DateTime.UtcNow >= nextPrune)
                {
                    nextPrune = DateTime.UtcNow.AddMinutes(10);
                    await _table.PruneDeadAsync(TimeSpan.FromHours(1), ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The store may be briefly unreachable; if it stays so, the others will declare us dead.
                _log.LogWarning(e, "Membership round failed on silo {Silo}", SiloId);
            }
        }
    }

    private async Task DeclareSilentSilosDeadAsync(MembershipSnapshot snapshot, CancellationToken ct)
    {
        var deathMs = (long)_options.DeathTimeout.TotalMilliseconds;
        foreach (var e in snapshot.Entries)
        {
            if (e.SiloId == SiloId || e.Status == SiloStatus.Dead || e.HeartbeatAgeMs <= deathMs) continue;
            _log.LogWarning("Silo {Silo} missed heartbeats for {Age} ms (limit {Limit} ms); declaring it dead", e.SiloId, e.HeartbeatAgeMs, deathMs);
            await UpdateEntryAsync(e.SiloId, e.Address, SiloStatus.Dead, e.StartedMs, ct);
            await _directory.RemoveSiloAsync(e.SiloId, ct);
        }
    }

    /// <summary>Stops heartbeating without touching the table (what a crash looks like to the others).</summary>
    public async Task StopLoopAsync()
    {
        _stop.Cancel();
        if (_loop is not null)
        {
            try { await _loop; } catch (OperationCanceledException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopLoopAsync();
        _stop.Dispose();
    }
}
