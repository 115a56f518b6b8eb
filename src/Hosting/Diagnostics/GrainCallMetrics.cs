using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RagCluster.Hosting.Diagnostics;

/// <summary>
/// An Orleans incoming-call filter: every call to one of our grains that this silo runs is counted by grain interface, method and
/// outcome, timed (meter "RagCluster.Runtime"), added to the dashboard's per-method statistics, and its server
/// span (from Orleans' activity propagation) is tagged with this silo.
/// </summary>
public sealed class GrainCallMetrics(ILocalSiloDetails silo) : IIncomingGrainCallFilter
{
    public const string MeterName = "RagCluster.Runtime";
    public static readonly Meter Meter = new(MeterName);

    private static readonly Histogram<double> CallDuration = Meter.CreateHistogram("rc_grain_call_duration_seconds", "s",
        "Time a grain call spent running in its activation", advice: RagCluster.Grains.Diagnostics.RagMetrics.SecondsBuckets);
    private static readonly Counter<long> Calls = Meter.CreateCounter<long>("rc_grain_calls_total", description: "Grain calls run, by outcome");

    private readonly string _silo = silo.SiloAddress.ToString();

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        // Orleans' own grains (management, directory, membership) are the runtime's business, not the product's.
        if (context.InterfaceName.StartsWith("Orleans.", StringComparison.Ordinal))
        {
            await context.Invoke();
            return;
        }
        var type = RagTracing.ShortName(context.InterfaceName);
        var method = context.MethodName;
        if (Activity.Current is { } span && RagTracing.IsOrleansSource(span.Source.Name)) span.SetTag(RagTracing.SiloTag, _silo);
        var start = Stopwatch.GetTimestamp();
        var outcome = "error";
        try
        {
            await context.Invoke();
            outcome = "ok";
        }
        finally
        {
            var elapsed = Stopwatch.GetTimestamp() - start;
            Calls.Add(1, new TagList { { "type", type }, { "method", method }, { "outcome", outcome } });
            CallDuration.Record(elapsed / (double)Stopwatch.Frequency, new TagList { { "type", type }, { "method", method } });
            MethodStats.Record(type, method, outcome != "ok", elapsed);
        }
    }
}
