namespace RagCluster.Runtime.Storage;

internal sealed class PersistentLog(IGrainLogStorage storage, GrainId grain, string logName) : IPersistentLog
{
    private long _lastSeq;
    private long _snapshotSeq;

    public int EntriesSinceSnapshot => (int)(_lastSeq - _snapshotSeq);

    public async Task<(byte[]? Snapshot, IReadOnlyList<byte[]> Entries)> ReadAsync(CancellationToken cancellationToken = default)
    {
        var snapshot = await storage.ReadSnapshotAsync(grain, logName, cancellationToken);
        _snapshotSeq = snapshot?.Seq ?? 0;
        var entries = await storage.ReadEntriesAsync(grain, logName, _snapshotSeq, cancellationToken);
        _lastSeq = entries.Count > 0 ? entries[^1].Seq : _snapshotSeq;
        return (snapshot?.Data, entries.Select(e => e.Data).ToList());
    }

    public async Task AppendAsync(byte[] entry, CancellationToken cancellationToken = default)
    {
        await storage.AppendAsync(grain, logName, _lastSeq + 1, entry, cancellationToken);
        _lastSeq++;
    }

    public async Task SnapshotAsync(byte[] snapshot, CancellationToken cancellationToken = default)
    {
        await storage.WriteSnapshotAsync(grain, logName, _lastSeq, snapshot, cancellationToken);
        _snapshotSeq = _lastSeq;
    }
}
