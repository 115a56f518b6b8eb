namespace RagCluster.Runtime;

/// <summary>
/// A grain's durable state. Writes are conditional on <see cref="ETag"/>: a write based on a stale read
/// throws <see cref="InconsistentStateException"/> instead of overwriting newer data.
/// </summary>
public interface IPersistentState<TState> where TState : new()
{
    TState State { get; set; }
    /// <summary>Version token of the last read or write; null when nothing is stored.</summary>
    string? ETag { get; }
    bool RecordExists { get; }
    Task ReadStateAsync(CancellationToken cancellationToken = default);
    Task WriteStateAsync(CancellationToken cancellationToken = default);
    Task ClearStateAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// A grain's durable append-only log with snapshots (Orleans' closest analogue is a JournaledGrain's log):
/// for state too large to rewrite on each change. Appends are conditional on sequence numbers, so a second
/// activation writing the same log fails with <see cref="InconsistentStateException"/> instead of forking it.
/// </summary>
public interface IPersistentLog
{
    /// <summary>Loads the latest snapshot (null if none) and the entries appended after it, in order.</summary>
    Task<(byte[]? Snapshot, IReadOnlyList<byte[]> Entries)> ReadAsync(CancellationToken cancellationToken = default);
    Task AppendAsync(byte[] entry, CancellationToken cancellationToken = default);
    /// <summary>Stores a snapshot of everything appended so far; the entries it covers are dropped.</summary>
    Task SnapshotAsync(byte[] snapshot, CancellationToken cancellationToken = default);
    /// <summary>Entries a reader would replay on top of the snapshot.</summary>
    int EntriesSinceSnapshot { get; }
}

/// <summary>Marks a grain constructor parameter of type <see cref="IPersistentLog"/>.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class PersistentLogAttribute(string logName) : Attribute
{
    public string LogName { get; } = logName;
}
