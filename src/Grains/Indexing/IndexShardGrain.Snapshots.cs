using Orleans.Storage;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Storage.GrainLogs;

namespace RagCluster.Grains.Indexing;

// Snapshots bound the log a reload replays: taken once the tail is SnapshotEvery entries and Shards:SnapshotAtTailShare of the last snapshot's bytes, and when idle.
public sealed partial class IndexShardGrain
{
    private async Task<bool> SnapshotIfDueAsync()
    {
        if (_follower is not null) return true; // the primary owns the log and its snapshots
        var due = _idleSnapshotDue ? log.EntriesSinceSnapshot > 0 : log.EntriesSinceSnapshot >= SnapshotEvery && log.BytesSinceSnapshot >= shardSettings.Value.SnapshotAtTailShare * _snapshotBytes;
        _idleSnapshotDue = false;
        if (!due || DateTime.UtcNow < _nextSnapshotAttempt) return true;
        try
        {
            await TakeSnapshotAsync();
            if (_snapshotFailures > 0) logger.SnapshotRecovered(this.GetPrimaryKeyString(), _snapshotFailures);
            (_snapshotFailures, _lastSnapshotError, _nextSnapshotAttempt) = (0, null, default);
            return true;
        }
        catch (InconsistentStateException e)
        {
            Fenced(e);
            return false;
        }
        catch (Exception e)
        {
            // The entries are durable, so nothing is lost, but the tail a restart replays keeps growing: say so, and
            // try again after a backoff even if no write comes to trigger it (Record refuses writes past a bound).
            _snapshotFailures++;
            _lastSnapshotError = $"{e.GetType().Name}: {e.Message}";
            var backoff = TimeSpan.FromSeconds(Math.Min(60, 1 << Math.Min(_snapshotFailures - 1, 6)));
            _nextSnapshotAttempt = DateTime.UtcNow + backoff;
            RagMetrics.ShardSnapshotFailures.Add(1);
            logger.SnapshotFailed(e, this.GetPrimaryKeyString(), _snapshotFailures, log.BytesSinceSnapshot >> 20, backoff);
            _snapshotRetry?.Dispose();
            _snapshotRetry = this.RegisterGrainTimer(() => { RunWriter(); return Task.CompletedTask; }, backoff, Timeout.InfiniteTimeSpan);
            return true;
        }
    }

    // Written on an indexing thread while searches read beside it, and stored page by page as it is written;
    // nothing changes the shard meanwhile (the writer loop waits).
    private async Task TakeSnapshotAsync(CancellationToken cancellationToken = default) =>
        _snapshotBytes = await SnapshotPipe.RunAsync(cpu.Run, WriteSnapshot, pages => log.SnapshotAsync(pages, cancellationToken));

    private void WriteSnapshot(Stream output)
    {
        var live = new List<int>(_chunks.LiveCount);
        for (var i = 0; i < _chunks.SlotCount; i++) if (_chunks.IsLive(i)) live.Add(i);
        var versions = _documents.ToDictionary(d => d.Key, d => d.Value.Version, StringComparer.Ordinal);
        foreach (var (doc, v) in _tombstones.All) versions[doc] = -v; // negative: removed at that version
        ShardSnapshots.Write(new ShardContent
        {
            SlotCount = _chunks.SlotCount, LiveSlots = live, Chunks = new LazyList<ChunkRecord>(live.Count, i => _chunks.Record(live[i])),
            DocumentVersions = versions, Graph = _hnsw, NodeToSlot = _nodeToSlot,
        }, serializer, output);
    }

    private void Restore(ShardContent s)
    {
        _retired = s.Retired;
        _chunks.Reserve(s.SlotCount);
        // The documents first, each with its version (one with no chunks in this shard too): then a chunk costs one
        // lookup, not two, and a reload does this for every chunk of the shard.
        _documents.EnsureCapacity(s.DocumentVersions.Count);
        foreach (var (doc, v) in s.DocumentVersions)
        {
            if (v < 0) _tombstones.Set(doc, -v);
            else _documents[doc] = new DocumentSlots(v);
        }
        for (var i = 0; i < s.LiveSlots.Count; i++)
        {
            var slot = s.LiveSlots[i];
            var chunk = s.Chunks[i];
            ref var d = ref _documents.Entry(chunk.DocumentId, 0);
            d.Add(slot);
            _chunks.Put(slot, chunk.DocumentId, chunk);
            _lexical.Add(slot, chunk.Text, chunk.Tags);
        }
        if (s.Graph is { } graph)
        {
            _hnsw = graph;
            _nodeToSlot.AddRange(s.NodeToSlot);
            for (var node = 0; node < s.NodeToSlot.Count; node++)
                if (!graph.IsDeleted(node)) _chunks.SetNode(s.NodeToSlot[node], node);
            // A snapshot taken before links per value (or with another access field) joins its nodes now; the writer
            // loop links them as it links a log tail, and searches compare them exactly meanwhile.
            SyncAllValues();
        }
    }
}
