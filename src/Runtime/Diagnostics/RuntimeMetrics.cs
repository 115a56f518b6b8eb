using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RagCluster.Runtime.Diagnostics;

/// <summary>
/// The runtime's instruments (System.Diagnostics.Metrics, meter "RagCluster.Runtime"): grain calls with their
/// latency and outcome per grain type and method. Activation counts and queue lengths are observed from each
/// silo's catalog when metrics are collected.
/// </summary>
public static class RuntimeMetrics
{
    public const string MeterName = "RagCluster.Runtime";
    public static readonly Meter Meter = new(MeterName);

    public static readonly Histogram<double> CallDuration = Meter.CreateHistogram<double>("rc_grain_call_duration_seconds", "s",
        "Time a grain call spent queued and running in its activation");

    public static readonly Counter<long> Calls = Meter.CreateCounter<long>("rc_grain_calls_total", description: "Grain calls run, by outcome");

    private static readonly ConcurrentDictionary<Hosting.Silo, byte> LiveSilos = new();

    // One gauge over every running silo of the process (tests run several), labelled by silo.
    private static readonly ObservableGauge<int> Activations = Meter.CreateObservableGauge("rc_grain_activations",
        () => LiveSilos.Keys.SelectMany(s => s.ActivationsByType().Select(kv =>
            new Measurement<int>(kv.Value, new KeyValuePair<string, object?>("type", ShortName(kv.Key)), new KeyValuePair<string, object?>("silo", s.SiloId)))),
        description: "Live grain activations by grain type and silo");

    private static readonly ObservableGauge<int> Queued = Meter.CreateObservableGauge("rc_grain_queued_requests",
        () => LiveSilos.Keys.SelectMany(s => s.QueuedByType().Select(kv =>
            new Measurement<int>(kv.Value, new KeyValuePair<string, object?>("type", ShortName(kv.Key)), new KeyValuePair<string, object?>("silo", s.SiloId)))),
        description: "Requests waiting for their activation's turn, by grain type and silo");

    private static readonly ObservableGauge<int> Members = Meter.CreateObservableGauge("rc_cluster_active_silos",
        () => LiveSilos.Keys.Select(s => new Measurement<int>(s.Members.Count(m => m.Status == Membership.SiloStatus.Active),
            new KeyValuePair<string, object?>("silo", s.SiloId))),
        description: "Active silos in each local silo's membership view");

    internal static void Track(Hosting.Silo silo) => LiveSilos.TryAdd(silo, 0);
    internal static void Untrack(Hosting.Silo silo) => LiveSilos.TryRemove(silo, out _);

    internal static void RecordCall(string grainType, string method, string outcome, long startTimestamp)
    {
        var type = ShortName(grainType);
        var tags = new TagList { { "type", type }, { "method", method }, { "outcome", outcome } };
        Calls.Add(1, tags);
        var elapsed = Stopwatch.GetTimestamp() - startTimestamp;
        CallDuration.Record(elapsed / (double)Stopwatch.Frequency, new TagList { { "type", type }, { "method", method } });
        MethodStats.Record(type, method, outcome != "ok", elapsed);
    }

    /// <summary>"RagCluster.Grains.Interfaces.Rag.IDocumentGrain" → "IDocumentGrain".</summary>
    public static string ShortName(string grainType) => grainType[(grainType.LastIndexOf('.') + 1)..];
}
