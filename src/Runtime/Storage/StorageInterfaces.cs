using RagCluster.Runtime.Membership;

namespace RagCluster.Runtime.Storage;

/// <summary>Stored bytes of one grain state and the ETag they were written with.</summary>
public sealed record StoredState(byte[] Data, string ETag);

/// <summary>Durable grain state with optimistic concurrency on ETags.</summary>
public interface IGrainStorage
{
    Task<StoredState?> ReadAsync(GrainId grain, string stateName, CancellationToken ct = default);

    /// <summary>Writes if the stored ETag equals <paramref name="expectedETag"/> (null: nothing stored yet); returns the new ETag.</summary>
    /// <exception cref="InconsistentStateException">The stored ETag differs: someone else wrote first.</exception>
    Task<string> WriteAsync(GrainId grain, string stateName, byte[] data, string? expectedETag, CancellationToken ct = default);

    /// <exception cref="InconsistentStateException">The stored ETag differs.</exception>
    Task ClearAsync(GrainId grain, string stateName, string? expectedETag, CancellationToken ct = default);
}

/// <summary>
/// Which silo holds the single activation of each grain. Registration is atomic in the store, which is
/// what keeps one activation per grain even while silos disagree about membership.
/// </summary>
public interface IGrainDirectory
{
    /// <summary>Registers <paramref name="siloId"/> unless another silo holds the grain; returns the holder either way.</summary>
    Task<string> RegisterAsync(GrainId grain, string siloId, CancellationToken ct = default);

    /// <summary>Moves the grain from <paramref name="previousSiloId"/> (a dead silo) to <paramref name="siloId"/>; false if the holder changed meanwhile.</summary>
    Task<bool> TryTakeOverAsync(GrainId grain, string siloId, string previousSiloId, CancellationToken ct = default);

    Task UnregisterAsync(GrainId grain, string siloId, CancellationToken ct = default);

    /// <summary>Drops every registration of a dead silo.</summary>
    Task RemoveSiloAsync(string siloId, CancellationToken ct = default);
}

/// <summary>The one store a cluster shares: membership, directory and grain state.</summary>
public interface IClusterStore : IMembershipTable, IGrainDirectory, IGrainStorage, IGrainLogStorage, IAsyncDisposable
{
    /// <summary>Creates tables if missing; safe when several silos start at once.</summary>
    Task InitializeAsync(CancellationToken ct = default);

    /// <summary>Human-readable description without secrets, for logs.</summary>
    string Describe();
}

internal static class ETags
{
    // Random, never reused: a stale writer cannot match a record that was cleared and written again.
    public static string New() => Guid.NewGuid().ToString("N");

    public static InconsistentStateException Conflict(GrainId grain, string stateName, string? expected) =>
        new($"state '{stateName}' of grain {grain} was changed by another writer (expected ETag {expected ?? "<none>"}); re-read the state before writing");
}

/// <summary>
/// Append-only logs with snapshots, for grain state too large to rewrite on every change (index shards):
/// entries are appended with consecutive sequence numbers, and a snapshot replaces every entry up to its own.
/// </summary>
public interface IGrainLogStorage
{
    Task<(long Seq, byte[] Data)?> ReadSnapshotAsync(GrainId grain, string logName, CancellationToken ct = default);
    Task<List<(long Seq, byte[] Data)>> ReadEntriesAsync(GrainId grain, string logName, long afterSeq, CancellationToken ct = default);

    /// <exception cref="InconsistentStateException">An entry with this sequence number exists: another writer appended first.</exception>
    Task AppendAsync(GrainId grain, string logName, long seq, byte[] data, CancellationToken ct = default);

    /// <summary>Stores the snapshot taken after entry <paramref name="seq"/> and drops the entries it covers.</summary>
    Task WriteSnapshotAsync(GrainId grain, string logName, long seq, byte[] data, CancellationToken ct = default);
}
