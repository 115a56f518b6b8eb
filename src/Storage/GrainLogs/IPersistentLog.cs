namespace RagCluster.Storage.GrainLogs;

/// <summary>
/// A grain's durable append-only log with snapshots, for state too large to rewrite on every change (an HNSW
/// shard). Orleans' IPersistentState rewrites the whole state on each write, and its JournaledGrain keeps events
/// but offers no snapshot-plus-tail storage for ADO.NET, so this is ours.
/// <see cref="ReadAsync"/> also fences the log: it takes the next epoch of the log's owner row, and every later
/// append or snapshot of an older epoch is refused with <see cref="Orleans.Storage.InconsistentStateException"/>.
/// Orleans' single activation makes two owners rare; the fence makes a stale one harmless.
/// </summary>
public interface IPersistentLog
{
    /// <summary>Takes ownership (a new epoch), then loads the latest snapshot's pages (null if none) and the entries after it, in order.</summary>
    Task<(IReadOnlyList<byte[]>? Snapshot, IReadOnlyList<byte[]> Entries)> ReadAsync(CancellationToken cancellationToken = default);
    Task AppendAsync(byte[] entry, CancellationToken cancellationToken = default) => AppendAsync([entry], cancellationToken);
    /// <summary>Appends several entries durably in one write (all or none), in order.</summary>
    Task AppendAsync(IReadOnlyList<byte[]> entries, CancellationToken cancellationToken = default);
    /// <summary>
    /// Stores a snapshot of everything appended so far, its pages stored as they come (e.g. from a
    /// <see cref="SnapshotPipe"/>); the entries it covers are dropped once the whole snapshot is stored.
    /// </summary>
    Task SnapshotAsync(IAsyncEnumerable<byte[]> pages, CancellationToken cancellationToken = default);
    /// <summary>Stores a snapshot already in memory (a small one).</summary>
    Task SnapshotAsync(IReadOnlyList<byte[]> pages, CancellationToken cancellationToken = default) =>
        SnapshotAsync(pages.ToAsyncEnumerable(), cancellationToken);
    /// <summary>The sequence number of the last entry this activation read or appended (0: none yet).</summary>
    long LastSeq { get; }
    /// <summary>Entries a reader would replay on top of the snapshot.</summary>
    int EntriesSinceSnapshot { get; }
    /// <summary>Bytes of those entries (as appended by this activation, plus those it read).</summary>
    long BytesSinceSnapshot { get; }
}

/// <summary>Marks a grain constructor parameter of type <see cref="IPersistentLog"/>, as [PersistentState] does for state.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class PersistentLogAttribute(string logName) : Attribute, IFacetMetadata
{
    public string LogName { get; } = logName;
}
