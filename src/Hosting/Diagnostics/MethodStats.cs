using System.Collections.Concurrent;

namespace RagCluster.Hosting.Diagnostics;

[GenerateSerializer, Immutable, Alias("rc.MethodStat")]
public sealed record MethodStat(string Type, string Method, long Calls, long Errors, double MeanMs, double MaxMs);

/// <summary>Calls, errors and latency per grain method in this process since it started (the dashboard's "top methods").</summary>
public static class MethodStats
{
    private sealed class Cell
    {
        public long Calls, Errors, TotalTicks, MaxTicks;
    }

    private static readonly ConcurrentDictionary<(string, string), Cell> Cells = new();

    internal static void Record(string type, string method, bool error, long elapsedTicks)
    {
        var c = Cells.GetOrAdd((type, method), static _ => new Cell());
        Interlocked.Increment(ref c.Calls);
        if (error) Interlocked.Increment(ref c.Errors);
        Interlocked.Add(ref c.TotalTicks, elapsedTicks);
        for (var max = Volatile.Read(ref c.MaxTicks); elapsedTicks > max; max = Volatile.Read(ref c.MaxTicks))
            if (Interlocked.CompareExchange(ref c.MaxTicks, elapsedTicks, max) == max) break;
    }

    public static MethodStat[] Snapshot() => Cells.Select(kv =>
    {
        var calls = Volatile.Read(ref kv.Value.Calls);
        double Ms(long ticks) => ticks * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
        return new MethodStat(kv.Key.Item1, kv.Key.Item2, calls, Volatile.Read(ref kv.Value.Errors),
            calls == 0 ? 0 : Ms(Volatile.Read(ref kv.Value.TotalTicks)) / calls, Ms(Volatile.Read(ref kv.Value.MaxTicks)));
    }).ToArray();
}
