namespace RagCluster.Storage.GrainLogs;

/// <summary>
/// Where grain logs live: entries with consecutive sequence numbers, one snapshot per log that replaces the
/// entries it covers, and an owner row whose epoch fences stale writers. A snapshot is a list of pages, so its size
/// has no limit from one array or one database value.
/// </summary>
public interface IGrainLogStore
{
    /// <summary>Makes the caller the log's owner: returns a new epoch, higher than any before it.</summary>
    Task<long> ClaimAsync(string grain, string logName, CancellationToken ct = default);
    Task<(long Seq, IReadOnlyList<byte[]> Pages)?> ReadSnapshotAsync(string grain, string logName, CancellationToken ct = default);
    Task<List<(long Seq, byte[] Data)>> ReadEntriesAsync(string grain, string logName, long afterSeq, CancellationToken ct = default);
    /// <summary>
    /// The latest snapshot and every entry after it as of one moment, for a reader that does not own the log (a shard's
    /// copy): a snapshot written meanwhile never leaves it with pages or entries missing.
    /// </summary>
    Task<((long Seq, IReadOnlyList<byte[]> Pages)? Snapshot, List<(long Seq, byte[] Data)> Entries)> ReadAllAsync(string grain, string logName, CancellationToken ct = default);
    /// <summary>The last entry the latest snapshot covers (0: no snapshot), without reading its pages.</summary>
    Task<long> SnapshotSeqAsync(string grain, string logName, CancellationToken ct = default);
    /// <summary>The grains that own a log of this name (each claimed it at least once), for a silo to wake after a restart.</summary>
    Task<IReadOnlyList<string>> GrainsAsync(string logName, CancellationToken ct = default);

    /// <summary>Appends the entries as <paramref name="firstSeq"/>, firstSeq + 1, ... in one transaction: all or none.</summary>
    /// <exception cref="Orleans.Storage.InconsistentStateException">The epoch is stale, or one of the entries exists.</exception>
    Task AppendAsync(string grain, string logName, long epoch, long firstSeq, IReadOnlyList<byte[]> entries, CancellationToken ct = default);

    /// <summary>
    /// Stores the snapshot taken after entry <paramref name="seq"/>: its pages, in order, each as it comes (a page may
    /// be reused once the next is asked for), then, at once, makes it the log's snapshot and drops the entries it
    /// covers. Until then, and if this fails, the previous snapshot stays the one read.
    /// </summary>
    /// <exception cref="Orleans.Storage.InconsistentStateException">The epoch is stale.</exception>
    Task WriteSnapshotAsync(string grain, string logName, long epoch, long seq, IAsyncEnumerable<byte[]> pages, CancellationToken ct = default);
}

/// <summary>Logs in process memory, for the <c>memory</c> store (tests and throw-away runs).</summary>
public sealed class InMemoryGrainLogStore : IGrainLogStore
{
    private sealed class Log
    {
        public long Epoch;
        public (long Seq, IReadOnlyList<byte[]> Pages)? Snapshot;
        public readonly SortedDictionary<long, byte[]> Entries = [];
    }

    private readonly Dictionary<(string, string), Log> _logs = [];

    private Log Get(string grain, string logName)
    {
        if (!_logs.TryGetValue((grain, logName), out var log)) _logs[(grain, logName)] = log = new Log();
        return log;
    }

    public Task<long> ClaimAsync(string grain, string logName, CancellationToken ct = default)
    {
        lock (_logs) return Task.FromResult(++Get(grain, logName).Epoch);
    }

    public Task<(long Seq, IReadOnlyList<byte[]> Pages)?> ReadSnapshotAsync(string grain, string logName, CancellationToken ct = default)
    {
        lock (_logs) return Task.FromResult(Get(grain, logName).Snapshot);
    }

    public Task<long> SnapshotSeqAsync(string grain, string logName, CancellationToken ct = default)
    {
        lock (_logs) return Task.FromResult(Get(grain, logName).Snapshot?.Seq ?? 0);
    }

    public Task<((long Seq, IReadOnlyList<byte[]> Pages)? Snapshot, List<(long Seq, byte[] Data)> Entries)> ReadAllAsync(string grain, string logName, CancellationToken ct = default)
    {
        lock (_logs)
        {
            var log = Get(grain, logName);
            return Task.FromResult((log.Snapshot, log.Entries.Select(e => (e.Key, e.Value)).ToList()));
        }
    }

    public Task<IReadOnlyList<string>> GrainsAsync(string logName, CancellationToken ct = default)
    {
        lock (_logs) return Task.FromResult<IReadOnlyList<string>>(_logs.Where(l => l.Key.Item2 == logName && l.Value.Epoch > 0).Select(l => l.Key.Item1).ToList());
    }

    public Task<List<(long Seq, byte[] Data)>> ReadEntriesAsync(string grain, string logName, long afterSeq, CancellationToken ct = default)
    {
        lock (_logs) return Task.FromResult(Get(grain, logName).Entries.Where(e => e.Key > afterSeq).Select(e => (e.Key, e.Value)).ToList());
    }

    public Task AppendAsync(string grain, string logName, long epoch, long firstSeq, IReadOnlyList<byte[]> entries, CancellationToken ct = default)
    {
        lock (_logs)
        {
            var log = Get(grain, logName);
            if (log.Epoch != epoch || Enumerable.Range(0, entries.Count).Any(i => log.Entries.ContainsKey(firstSeq + i)))
                throw LogConflicts.Fenced(grain, logName, epoch);
            for (var i = 0; i < entries.Count; i++) log.Entries.Add(firstSeq + i, entries[i]);
        }
        return Task.CompletedTask;
    }

    public async Task WriteSnapshotAsync(string grain, string logName, long epoch, long seq, IAsyncEnumerable<byte[]> pages, CancellationToken ct = default)
    {
        var copies = new List<byte[]>();
        await foreach (var page in pages.WithCancellation(ct)) copies.Add(page.ToArray()); // the writer reuses its pages
        lock (_logs)
        {
            var log = Get(grain, logName);
            if (log.Epoch != epoch) throw LogConflicts.Fenced(grain, logName, epoch);
            log.Snapshot = (seq, copies);
            foreach (var covered in log.Entries.Keys.Where(k => k <= seq).ToList()) log.Entries.Remove(covered);
        }
    }
}
