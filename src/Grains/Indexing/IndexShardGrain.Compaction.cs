namespace RagCluster.Grains.Indexing;

// Compaction: deleted nodes still route walks and hold memory, so a new graph of the live ones is built beside the serving one.
public sealed partial class IndexShardGrain
{
    // Deleted nodes are compacted away once they are a quarter of the graph: a new graph of the live nodes is built
    // on a thread of its own while this one keeps serving and taking writes; the writer loop then catches it up and swaps.
    private void StartCompactionIfDue()
    {
        // Members that left a value (a tag change) route its walks as deleted nodes route the main one: dropped the same way.
        if (_hnsw is not { } graph || (graph.DeletedCount < Math.Max(hnswOptions.CompactMinDeleted, graph.Count / 4)
            && graph.GoneValueMembers < Math.Max(hnswOptions.CompactMinDeleted, graph.ValueMembers / 4))) return;
        logger.Compacting(this.GetPrimaryKeyString(), graph.DeletedCount, graph.Count);
        var token = _deactivating.Token;
        // Its own thread, one core: a build of minutes must not hold up other shards' inserts queued on the indexing threads.
        var values = graph.ValueCount > 0 ? graph.ValuesHeld() : null; // read here, where nothing changes the graph
        _compaction = Task.Factory.StartNew(() => graph.Compacted(1, values, token), token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        _ = WhenCompactedAsync(_compaction);
    }

    private async Task WhenCompactedAsync(Task compaction)
    {
        await compaction.ContinueWith(_ => { }); // resumes in the grain's context
        RunWriter();
    }

    private async Task FinishCompactionAsync()
    {
        var compaction = _compaction!;
        _compaction = null;
        if (!compaction.IsCompletedSuccessfully || _hnsw is not { } old)
        {
            if (compaction.Exception is { } e) logger.CompactionFailed(e, this.GetPrimaryKeyString());
            if (compaction.IsCompletedSuccessfully) compaction.Result.Index.Dispose();
            return;
        }
        var (index, oldNodes) = compaction.Result;
        // Catch up with what changed while it was built: nodes added since, and nodes deleted since.
        var mapped = new bool[old.Count];
        foreach (var n in oldNodes) mapped[n] = true;
        var added = Enumerable.Range(0, old.Count).Where(n => !mapped[n] && !old.IsDeleted(n)).ToList();
        index.AppendRange(added.Select(n => old.Vector(n).ToArray()).ToList());
        await cpu.Run(() => index.LinkPending(cpu.Count));
        var nodeToSlot = new List<int>(index.Count);
        nodeToSlot.AddRange(oldNodes.Select(n => _nodeToSlot[n]));
        nodeToSlot.AddRange(added.Select(n => _nodeToSlot[n]));
        for (var node = 0; node < oldNodes.Length; node++)
            if (old.IsDeleted(oldNodes[node])) index.Delete(node);
        // The values held now (a tag change or a node added during the build), before the slots point at the new
        // nodes: searches go on with the old graph until the swap.
        for (var node = 0; node < nodeToSlot.Count; node++)
            if (!index.IsDeleted(node)) SyncValues(nodeToSlot[node], node, index);
        if (index.PendingCount > 0) await cpu.Run(() => index.LinkPending(cpu.Count));
        for (var node = 0; node < nodeToSlot.Count; node++)
            if (!index.IsDeleted(node)) _chunks.SetNode(nodeToSlot[node], node);
        (_hnsw, _nodeToSlot) = (index, nodeToSlot);
        old.Dispose(); // an int8 graph's full-precision file; nothing reads the old graph after the swap (searches run in turns)
        logger.Compacted(this.GetPrimaryKeyString(), index.Count);
    }
}
