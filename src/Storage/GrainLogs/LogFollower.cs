using RagCluster.Storage.Faults;

namespace RagCluster.Storage.GrainLogs;

/// <summary>
/// Reads another grain's log without owning it (no epoch taken, so its owner is never fenced): a read-only copy of a
/// shard loads the primary's snapshot and entries, then follows the entries appended after them.
/// </summary>
public sealed class LogFollower(IGrainLogStore store, string grain, string logName)
{
    /// <summary>The sequence number of the last entry read (or covered by the snapshot read).</summary>
    public long Position { get; private set; }

    /// <summary>The latest snapshot's pages (null if none) and the entries after it, in order.</summary>
    public Task<(IReadOnlyList<byte[]>? Snapshot, IReadOnlyList<byte[]> Entries)> ReadAsync(CancellationToken cancellationToken = default) =>
        StoreFaults.Read(async () =>
        {
            var (snapshot, entries) = await store.ReadAllAsync(grain, logName, cancellationToken);
            Position = entries.Count > 0 ? entries[^1].Seq : snapshot?.Seq ?? 0;
            return (snapshot?.Pages, (IReadOnlyList<byte[]>)entries.Select(e => e.Data).ToList());
        }, $"a follower's read of log '{logName}' of {grain}", cancellationToken);

    /// <summary>
    /// The entries after <see cref="Position"/>; null when a snapshot has dropped some of them since (the follower then
    /// loads again with <see cref="ReadAsync"/>).
    /// </summary>
    public Task<IReadOnlyList<byte[]>?> ReadNewAsync(CancellationToken cancellationToken = default) =>
        StoreFaults.Read(async () =>
        {
            var from = Position;
            var entries = await store.ReadEntriesAsync(grain, logName, from, cancellationToken);
            if (entries.Count > 0 && entries[0].Seq != from + 1) return null;
            if (entries.Count == 0 && await store.SnapshotSeqAsync(grain, logName, cancellationToken) > from) return null;
            // Entries pushed (Accept) while this read ran moved the position on: those are taken already, and again
            // after them would apply an older write over a newer one.
            var fresh = entries.Where(e => e.Seq > Position).ToList();
            if (fresh.Count > 0) Position = fresh[^1].Seq;
            return (IReadOnlyList<byte[]>?)fresh.Select(e => e.Data).ToList();
        }, $"a follower's read of log '{logName}' of {grain}", cancellationToken);

    /// <summary>Entries pushed by the log's owner from <paramref name="firstSeq"/> on: those after the position, or null on a gap.</summary>
    public IReadOnlyList<byte[]>? Accept(long firstSeq, byte[][] entries)
    {
        if (firstSeq > Position + 1) return null;
        var skip = (int)Math.Min(entries.Length, Position + 1 - firstSeq);
        Position = Math.Max(Position, firstSeq + entries.Length - 1);
        return entries[skip..];
    }
}
