using System.Diagnostics;

namespace RagCluster.Hosting.Diagnostics;

/// <summary>A finished span as the dashboard shows it: which grain method ran where, for how long, under which trace.</summary>
[GenerateSerializer, Immutable, Alias("rc.RecordedSpan")]
public sealed record RecordedSpan(string TraceId, string SpanId, string? ParentSpanId, string Name, string Kind, string? Silo, string? GrainKey,
    DateTimeOffset Start, double DurationMs, bool Error);

/// <summary>
/// Keeps the last few thousand spans of this process in a ring, so the dashboard can show which grains on which
/// silos served a query without an external trace store. It records the API's query spans
/// (<see cref="RagTracing.QuerySource"/>) and Orleans' grain call spans (its activity propagation, sources
/// "Microsoft.Orleans.*") made under some trace; background work such as timers, which starts no trace, stays
/// unrecorded and costs nothing.
/// </summary>
public static class SpanRecorder
{
    public const int Capacity = 8192;
    private static readonly RecordedSpan?[] Ring = new RecordedSpan?[Capacity];
    private static long _next = -1;
    private static ActivityListener? _listener;
    private static readonly object Gate = new();

    /// <summary>Idempotent; every silo calls it when it starts.</summary>
    public static void Start()
    {
        lock (Gate)
        {
            if (_listener is not null) return;
            _listener = new ActivityListener
            {
                ShouldListenTo = s => s.Name == RagTracing.QuerySourceName || RagTracing.IsOrleansSource(s.Name),
                Sample = (ref ActivityCreationOptions<ActivityContext> o) =>
                    o.Source.Name == RagTracing.QuerySourceName || o.Parent.TraceId != default ? ActivitySamplingResult.AllDataAndRecorded : ActivitySamplingResult.None,
                ActivityStopped = Record,
            };
            ActivitySource.AddActivityListener(_listener);
        }
    }

    private static void Record(Activity a)
    {
        var span = new RecordedSpan(a.TraceId.ToHexString(), a.SpanId.ToHexString(), a.ParentSpanId == default ? null : a.ParentSpanId.ToHexString(),
            RagTracing.NameOf(a), a.Kind.ToString(), a.GetTagItem("ragcluster.silo") as string, RagTracing.GrainKeyOf(a),
            a.StartTimeUtc, a.Duration.TotalMilliseconds, a.Status == ActivityStatusCode.Error);
        Ring[(int)((ulong)Interlocked.Increment(ref _next) % Capacity)] = span;
    }

    public static RecordedSpan[] ForTrace(string traceId) =>
        Ring.Where(s => s is not null && s.TraceId == traceId).Select(s => s!).OrderBy(s => s.Start).ToArray();
}
