using System.Diagnostics;
using System.Diagnostics.Metrics;
using RagCluster.Storage.Concurrency;

namespace RagCluster.Storage.Sqlite;

/// <summary>
/// Turns at the SQLite file's one writer, timed: how long this process held the turn and waited for it, as counters
/// (<c>rc_store_sqlite_write_held_seconds_total</c>, <c>rc_store_sqlite_write_waited_seconds_total</c>). Held seconds
/// over wall seconds is how busy the writer is, the first thing to read when an embedded silo stops scaling with cores.
/// </summary>
public static class SqliteWriteTurns
{
    private static readonly Meter Meter = new("RagCluster.Storage");
    private static long _heldTicks, _waitedTicks;

    static SqliteWriteTurns()
    {
        Meter.CreateObservableCounter("rc_store_sqlite_write_held_seconds_total", () => Seconds(ref _heldTicks),
            description: "Seconds this process held the SQLite file's write turn (one writer at a time)");
        Meter.CreateObservableCounter("rc_store_sqlite_write_waited_seconds_total", () => Seconds(ref _waitedTicks),
            description: "Seconds writes of this process waited for the SQLite file's write turn, summed over the writes");
    }

    public static double HeldSeconds => Seconds(ref _heldTicks);

    private static double Seconds(ref long ticks) => Interlocked.Read(ref ticks) / (double)Stopwatch.Frequency;

    public static async ValueTask<IDisposable> EnterAsync(SemaphoreSlim gate, CancellationToken ct)
    {
        var asked = Stopwatch.GetTimestamp();
        var turn = await gate.EnterAsync(ct);
        var entered = Stopwatch.GetTimestamp();
        Interlocked.Add(ref _waitedTicks, entered - asked);
        return new Timed(turn, entered);
    }

    private sealed class Timed(IDisposable turn, long entered) : IDisposable
    {
        private int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) return;
            Interlocked.Add(ref _heldTicks, Stopwatch.GetTimestamp() - entered);
            turn.Dispose();
        }
    }
}
