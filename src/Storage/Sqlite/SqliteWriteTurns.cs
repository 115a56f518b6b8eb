using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using RagCluster.Storage.Concurrency;

namespace RagCluster.Storage.Sqlite;

/// <summary>
/// Turns at the SQLite file's one writer, timed: how long this process held the turn and waited for it, as counters
/// (<c>rc_store_sqlite_write_held_seconds_total</c>, <c>rc_store_sqlite_write_waited_seconds_total</c>). Held seconds
/// over wall seconds is how busy the writer is, the first thing to read when an embedded silo stops scaling with cores;
/// by <c>site</c> (the writing class and method), which writes take it.
/// </summary>
public static class SqliteWriteTurns
{
    private static readonly Meter Meter = new("RagCluster.Storage");
    private sealed class Site { public long HeldTicks, WaitedTicks; }
    private static readonly ConcurrentDictionary<string, Site> Sites = new();

    static SqliteWriteTurns()
    {
        Meter.CreateObservableCounter("rc_store_sqlite_write_held_seconds_total", () => Measure(s => s.HeldTicks),
            description: "Seconds this process held the SQLite file's write turn (one writer at a time), by the writing site");
        Meter.CreateObservableCounter("rc_store_sqlite_write_waited_seconds_total", () => Measure(s => s.WaitedTicks),
            description: "Seconds writes of this process waited for the SQLite file's write turn, summed over the writes, by the writing site");
    }

    /// <summary>Seconds held so far, over every site.</summary>
    public static double HeldSeconds => Sites.Values.Sum(s => Interlocked.Read(ref s.HeldTicks)) / (double)Stopwatch.Frequency;

    private static IEnumerable<Measurement<double>> Measure(Func<Site, long> ticks) =>
        Sites.Select(s => new Measurement<double>(ticks(s.Value) / (double)Stopwatch.Frequency, new KeyValuePair<string, object?>("site", s.Key)));

    public static async ValueTask<IDisposable> EnterAsync(SemaphoreSlim gate, string site, CancellationToken ct)
    {
        var counts = Sites.GetOrAdd(site, _ => new Site());
        var asked = Stopwatch.GetTimestamp();
        var turn = await gate.EnterAsync(ct);
        var entered = Stopwatch.GetTimestamp();
        Interlocked.Add(ref counts.WaitedTicks, entered - asked);
        return new Timed(turn, counts, entered);
    }

    private sealed class Timed(IDisposable turn, Site counts, long entered) : IDisposable
    {
        private int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) return;
            Interlocked.Add(ref counts.HeldTicks, Stopwatch.GetTimestamp() - entered);
            turn.Dispose();
        }
    }
}
