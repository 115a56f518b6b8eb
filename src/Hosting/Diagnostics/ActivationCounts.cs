using System.Diagnostics.Metrics;

namespace RagCluster.Hosting.Diagnostics;

/// <summary>
/// This silo's activations by grain interface, as Orleans' management grain reports them, read at most every two
/// seconds; also the gauges rc_grain_activations{type,silo} and rc_cluster_active_silos{silo}.
/// </summary>
public sealed class ActivationCounts
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(2);
    private readonly IGrainFactory _grains;
    private readonly ILocalSiloDetails _silo;
    private readonly IClusterMembershipService _membership;
    private Dictionary<string, int> _counts = [];
    private DateTime _readAt = DateTime.MinValue;
    private Task<Dictionary<string, int>>? _reading;

    public ActivationCounts(IGrainFactory grains, ILocalSiloDetails silo, IClusterMembershipService membership)
    {
        _grains = grains;
        _silo = silo;
        _membership = membership;
        lock (Live) Live.Add(this);
    }

    private static readonly List<ActivationCounts> Live = [];

    static ActivationCounts()
    {
        GrainCallMetrics.Meter.CreateObservableGauge("rc_grain_activations", () =>
        {
            lock (Live)
                return Live.SelectMany(s => s._counts.Select(kv => new Measurement<int>(kv.Value,
                    new KeyValuePair<string, object?>("type", kv.Key), new KeyValuePair<string, object?>("silo", s._silo.SiloAddress.ToString())))).ToList();
        }, description: "Live grain activations by grain type and silo (sampled every 2 s)");
        GrainCallMetrics.Meter.CreateObservableGauge("rc_cluster_active_silos", () =>
        {
            lock (Live)
                return Live.Select(s => new Measurement<int>(s._membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active),
                    new KeyValuePair<string, object?>("silo", s._silo.SiloAddress.ToString()))).ToList();
        }, description: "Active silos in each local silo's membership view");
    }

    /// <summary>The counts, read again when older than <paramref name="maxAge"/> (default 2 s).</summary>
    public Task<Dictionary<string, int>> ReadAsync(TimeSpan? maxAge = null)
    {
        if (DateTime.UtcNow - _readAt < (maxAge ?? MaxAge)) return Task.FromResult(_counts);
        lock (this) return _reading is { IsCompleted: false } r ? r : _reading = RefreshAsync();
    }

    private async Task<Dictionary<string, int>> RefreshAsync()
    {
        var stats = await _grains.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics([_silo.SiloAddress]);
        var counts = stats.GroupBy(s => RagTracing.ShortName(s.GrainType)).ToDictionary(g => g.Key, g => g.Sum(s => s.ActivationCount));
        _counts = counts;
        _readAt = DateTime.UtcNow;
        return counts;
    }

    /// <summary>Keeps the gauges fresh between dashboard reads.</summary>
    internal async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(MaxAge);
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            try { await ReadAsync(); }
            catch (Exception e) when (e is not OperationCanceledException) { /* a silo going down; the next tick retries */ }
        }
    }

    internal void Stop()
    {
        lock (Live) Live.Remove(this);
    }
}
