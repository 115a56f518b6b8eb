using Orleans.Storage;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Lexical;
using RagCluster.Grains.Vectors;
using RagCluster.Metadata;

namespace RagCluster.Grains.Indexing;

// The single writer: changes queue, go to the log in one append a batch, then apply to the chunk table, BM25 and the graph.
public sealed partial class IndexShardGrain
{
    public Task Upsert(string documentId, long version, ChunkRecord[] chunks) =>
        IsStale(documentId, version) ? Task.CompletedTask // a retry or an older version arriving late
            : Record([new ShardLogEntry(documentId, version, chunks, Removed: false)]);

    public Task UpsertMany(ShardUpsert[] documents, CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Record(documents.Where(d => !IsStale(d.DocumentId, d.Version)).Select(d => new ShardLogEntry(d.DocumentId, d.Version, d.Chunks, Removed: false)).ToList());

    public Task Merge(ShardUpsert[] documents) =>
        Record(documents.Select(d => new ShardLogEntry(d.DocumentId, d.Version, d.Chunks, Removed: false) { Merge = true })
            .Where(e => !IsStale(e)).ToList());

    public Task Retag(string documentId, long version, Dictionary<string, string> tags) =>
        IsStale(documentId, version) || !_documents.ContainsKey(documentId) ? Task.CompletedTask
            : Record([new ShardLogEntry(documentId, version, [], Removed: false) { Retag = tags }]);

    public Task RemoveDocument(string documentId, long version) =>
        IsStale(documentId, version) ? Task.CompletedTask : Record([new ShardLogEntry(documentId, version, [], Removed: true)]);

    private bool IsStale(string documentId, long version) =>
        (_documents.TryGetValue(documentId, out var d) && d.Version >= version) ||
        (_tombstones.TryGet(documentId, out var r) && r >= version);

    // A merge of the version held is not stale: it may bring chunks this shard lacks.
    private bool IsStale(ShardLogEntry e) => e.Merge
        ? (_documents.TryGetValue(e.DocumentId, out var d) && d.Version > e.Version) || (_tombstones.TryGet(e.DocumentId, out var r) && r >= e.Version)
        : IsStale(e.DocumentId, e.Version);

    private Task Record(IReadOnlyList<ShardLogEntry> entries)
    {
        if (_retiring || _retired) throw Replaced();
        if (_follower is not null) throw new InvalidRequestException($"{this.GetPrimaryKeyString()} is a follower copy and takes no writes; write to its primary");
        if (entries.Count == 0) return Task.CompletedTask;
        if (_snapshotFailures > 0 && log.BytesSinceSnapshot > Math.Max(MaxTailBytesWithoutSnapshot, 2 * _snapshotBytes))
            throw new StorageUnavailableException($"shard {this.GetPrimaryKeyString()} takes no writes until a snapshot succeeds " +
                $"({_snapshotFailures} failed; its log holds {log.BytesSinceSnapshot >> 20} MiB since the last one): {_lastSnapshotError}");
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var e in entries) _queued.Add((e, done));
        _writeQueued.TrySetResult(); // ends the writer's wait behind a restart's shard loads, if it is in one
        RunWriter();
        return done.Task;
    }

    // Completed by the next write queued: the writer loop, waiting for a restart's other shards to load before it links
    // this one's log tail, takes the write at once instead of holding it behind those loads.
    private TaskCompletionSource _writeQueued = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void RunWriter()
    {
        if (!_retiring && _writer is null or { IsCompleted: true }) _writer = WriteQueuedAsync();
    }

    private ShardLayoutChangedException Replaced() => new($"shard {this.GetPrimaryKeyString()} was retired (a reshard replaced it, or its collection was deleted); read the collection's layout again");

    public async Task Retire()
    {
        if (_retired) return;
        _retiring = true; // refuses writes from now on, and stops the writer loop from starting again
        _deactivating.Cancel(); // drops a compaction in progress
        if (_writer is { IsCompleted: false } writer) await writer.ContinueWith(_ => { });
        foreach (var (_, done) in _queued) done.TrySetException(Replaced());
        _queued.Clear();
        var tombstone = new ShardContent
        {
            LiveSlots = [], Chunks = [], DocumentVersions = new Dictionary<string, long>(), NodeToSlot = [], Retired = true,
        };
        var bytes = new MemoryStream();
        ShardSnapshots.Write(tombstone, serializer, bytes);
        await log.SnapshotAsync([bytes.ToArray()]); // the log goes with the content
        _chunks.Clear();
        _documents.Clear();
        _tombstones.Clear();
        _nodeToSlot = [];
        _lexical.Clear();
        _hnsw?.Dispose();
        _hnsw = null;
        _snapshotBytes = 0;
        _retired = true;
        RetireFollowers();
        logger.ShardRetired(this.GetPrimaryKeyString());
        this.DeactivateOnIdle();
    }

    // The one place the shard changes. Group commit: one log write (one transaction) for everything queued, then one
    // bulk apply; then a snapshot or a compaction step when one is due.
    private async Task WriteQueuedAsync()
    {
        do
        {
            if (_follower is not null) await FollowStepAsync();
            if (_queued.Count > 0)
            {
                var batch = _queued.ToList();
                _queued.Clear();
                try
                {
                    // Two versions of one document in a batch: only the newest is written.
                    var newest = new Dictionary<string, long>(StringComparer.Ordinal);
                    foreach (var (e, _) in batch) newest[e.DocumentId] = Math.Max(newest.GetValueOrDefault(e.DocumentId), e.Version);
                    // One replacement a document, but every merge of its version (each may bring other chunks).
                    var replaced = new HashSet<string>(StringComparer.Ordinal);
                    var fresh = batch.Select(b => b.Entry).Where(e => e.Version == newest[e.DocumentId] && !IsStale(e) && (e.Merge || replaced.Add(e.DocumentId)))
                        .ToList();
                    _lastWrite = DateTime.UtcNow;
                    // Everything that can fail comes before the first change in memory: a vector this shard cannot hold
                    // fails its own write (with the reason, for its document), a new graph's encoding is asked for,
                    // then the entries are made durable. A failure up to here leaves memory as it was, so a retry applies.
                    var refused = Unfit(fresh);
                    if (refused.Count > 0)
                    {
                        foreach (var (e, done) in batch.Where(b => refused.ContainsKey(b.Entry)))
                            done.TrySetException(new InvalidRequestException(refused[e]));
                        fresh.RemoveAll(refused.ContainsKey);
                        batch.RemoveAll(b => refused.ContainsKey(b.Entry));
                    }
                    var stored = fresh.Select(e => ShardLogCodec.Encode(e, serializer, shardSettings.Value.OwnLogFormat)).ToArray();
                    await log.AppendAsync(stored); // durable first: a crash after this replays it
                    await ApplyAllAsync(fresh);
                    PushToFollowers(log.LastSeq - stored.Length + 1, stored);
                    foreach (var (_, done) in batch) done.TrySetResult();
                }
                catch (Exception e)
                {
                    foreach (var (_, done) in batch) done.TrySetException(e);
                    if (e is InconsistentStateException) { Fenced(e); return; }
                    continue;
                }
            }
            // Nodes a link pass that failed left out (their entries are durable and applied): linked again before a
            // snapshot, which refuses unlinked nodes. Retried on every round, the idle one included, until it succeeds.
            // The same step links a reload's log tail, in the background of a shard that already serves: on the indexing
            // threads only (cores - 1), which leaves a core to searches, and after the other shards of a restart have loaded.
            if (_hnsw is { PendingCount: > 0 } graph)
            {
                if (_tailLinking is not null && !cpu.ShardLoads.IsCompleted)
                {
                    var queued = _writeQueued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    if (_queued.Count > 0) continue; // a write first; the tail waits again after it
                    try { await Task.WhenAny(cpu.ShardLoads, queued.Task).WaitAsync(_deactivating.Token); }
                    catch (OperationCanceledException) { continue; }
                    if (!cpu.ShardLoads.IsCompleted) continue; // a write came: the loop takes it, then waits again
                }
                // Stopped by a deactivation: what is left stays in the log, and no snapshot is taken without it.
                try { await cpu.Run(() => graph.LinkPending(cpu.Count, beside: true, _deactivating.Token)); }
                catch (Exception) when (_deactivating.IsCancellationRequested) { continue; } // queued writes still go in
                catch (Exception e) { logger.LinkingFailed(this.GetPrimaryKeyString(), graph.PendingCount, e.Message); }
            }
            if (_tailLinking is { } since && _hnsw is not { PendingCount: > 0 }) TailLinked(since); // here or with a write batch
            if (!await SnapshotIfDueAsync()) return;
            if (_compaction is { IsCompleted: true }) await FinishCompactionAsync();
            else if (_compaction is null) StartCompactionIfDue();
        }
        while (_queued.Count > 0 || (_follower is not null && (_followed.Count > 0 || _catchUpDue)));
    }

    // Another activation owns the log now: refuse what is queued (callers retry, and reach the owner) and go away.
    private void Fenced(Exception e)
    {
        foreach (var (_, done) in _queued) done.TrySetException(e);
        _queued.Clear();
        this.DeactivateOnIdle();
    }

    // Applies entries in order; their vectors join the graph in one bulk insert at the end. The nodes are appended
    // and mapped to slots here, in the turn, and linked on the silo's indexing threads: a search may find a node as soon as a
    // link to it exists, and then already knows its slot.
    private static bool HasVectors(ShardLogEntry e) => e.Chunks.Any(c => c.Vector is { Length: > 0 });

    /// <summary>
    /// Entries whose vectors this shard cannot hold, with the reason: a dimension other than its graph's (or, with no
    /// graph yet, than the batch's first vector), which the graph would refuse after the entry was already applied.
    /// </summary>
    private Dictionary<ShardLogEntry, string> Unfit(IReadOnlyList<ShardLogEntry> entries)
    {
        var dimensions = _hnsw?.Dimensions ?? entries.SelectMany(e => e.Chunks).FirstOrDefault(c => c.Vector is { Length: > 0 })?.Vector!.Length ?? 0;
        var unfit = new Dictionary<ShardLogEntry, string>(ReferenceEqualityComparer.Instance);
        foreach (var e in entries)
            if (e.Chunks.FirstOrDefault(c => c.Vector is { Length: > 0 } v && v.Length != dimensions) is { } bad)
                unfit[e] = $"chunk {bad.ChunkId} has a vector of {bad.Vector!.Length} dimensions; shard {this.GetPrimaryKeyString()} holds {dimensions}";
        return unfit;
    }

    private async Task ApplyAllAsync(IReadOnlyList<ShardLogEntry> entries, bool activating = false)
    {
        var vectors = new List<(int Slot, float[] Vector)>();
        _tombstones.Rotate(); // old tombstones go as writes come, removals or not
        foreach (var entry in entries) Apply(entry, vectors);
        vectors.RemoveAll(v => !_chunks.IsLive(v.Slot)); // replaced again later in the same batch
        if (vectors.Count == 0)
        {
            // A tag change joined values: their links are made as a batch's are.
            if (!activating && _hnsw is { PendingCount: > 0 } retagged) await LinkAsync(retagged);
            return;
        }
        // A new graph takes the collection's quantization and distance; a restored one keeps those its snapshot has.
        _hnsw ??= new HnswIndex(vectors[0].Vector.Length, hnswOptions, encoding: _traits.Encoding, metric: _traits.Metric);
        // A replayed log written before writes were checked may still hold one: skipped, and said.
        if (vectors.RemoveAll(v => v.Vector.Length != _hnsw.Dimensions) is > 0 and var skipped)
            logger.OtherDimensionSkipped(this.GetPrimaryKeyString(), skipped, _hnsw.Dimensions);
        var graph = _hnsw;
        var first = graph.AppendRange(vectors.Select(v => v.Vector).ToList());
        for (var i = 0; i < vectors.Count; i++)
        {
            _nodeToSlot.Add(vectors[i].Slot);
            _chunks.SetNode(vectors[i].Slot, first + i);
            SyncValues(vectors[i].Slot);
        }
        // A log tail replayed on activation is linked by the writer loop once the shard serves: searches compare its
        // nodes exactly until then (HnswIndex.Search), so a restart waits for the snapshot and the tail's apply only.
        if (activating) return;
        await LinkAsync(graph);
    }

    private async Task LinkAsync(HnswIndex graph)
    {
        if (graph.PendingCount < 64) graph.LinkPending(); // a few links: cheaper here than a hop to another thread
        else await cpu.Run(() => graph.LinkPending(cpu.LinkThreads, beside: true));
    }

    // What the collection fixed at its creation and this shard's indexes are built by: asked once, at activation,
    // beside the log's read, before any chunk is added (an unknown collection answers its defaults; a failure fails the activation).
    private async Task<ShardTraits> TraitsAsync()
    {
        var key = this.GetPrimaryKeyString();
        var settings = await GrainFactory.GetGrain<ICollectionGrain>(key[..key.IndexOf('/')]).GetSettings();
        return new ShardTraits(TagRules.TextFields(settings.Fields), TermAnalyzers.For(settings.Language), Quantizations.Encoding(settings.Quantization), VectorMetrics.Parse(settings.Distance))
        {
            LinkedFields = settings.LinkedFields,
        };
    }

    private sealed record ShardTraits(string[] TextFields, TermAnalyzer Analyzer, VectorEncoding Encoding, VectorMetric Metric)
    {
        /// <summary>Fields whose values get graphs of their own (HnswIndex.Values.cs): the access field and the declared graphLinks.</summary>
        public string[] LinkedFields { get; init; } = [];
    }

    private void Apply(ShardLogEntry entry, List<(int Slot, float[] Vector)> vectors)
    {
        // Checked again against the entries before it in the batch: a merge adds to its version however it arrived; a
        // replacement of a version already held is skipped, as outside a batch.
        if (IsStale(entry)) return;
        if (entry.Retag is { } tags)
        {
            if (!_documents.ContainsKey(entry.DocumentId)) return; // not held here: nothing to retag
            ref var retagged = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_documents, entry.DocumentId);
            foreach (var slot in retagged.Slots)
            {
                _chunks.SetTags(slot, tags);
                _lexical.Retag(slot, tags);
                SyncValues(slot); // a document moved between access groups keeps each group's graph whole
            }
            retagged.Version = entry.Version;
            return;
        }
        if (entry.Merge && _documents.TryGetValue(entry.DocumentId, out var held) && held.Version == entry.Version)
        {
            var have = held.Slots.Select(_chunks.ChunkId).ToHashSet(StringComparer.Ordinal);
            var added = entry.Chunks.Where(c => have.Add(c.ChunkId)).Select(c => AddSlot(entry.DocumentId, c, vectors)).ToList();
            ref var merged = ref _documents.Entry(entry.DocumentId, entry.Version);
            foreach (var slot in added) merged.Add(slot);
            return;
        }
        if (_documents.Remove(entry.DocumentId, out var old))
            foreach (var slot in old.Slots) RemoveSlot(slot);
        if (entry.Removed)
        {
            _tombstones.Set(entry.DocumentId, entry.Version);
            return;
        }
        _tombstones.Remove(entry.DocumentId);
        var slots = new DocumentSlots(entry.Version);
        foreach (var chunk in entry.Chunks) slots.Add(AddSlot(entry.DocumentId, chunk, vectors));
        _documents[entry.DocumentId] = slots;
    }

    private int AddSlot(string documentId, ChunkRecord chunk, List<(int Slot, float[] Vector)> vectors)
    {
        var slot = _chunks.Add(documentId, chunk);
        _lexical.Add(slot, chunk.Text, chunk.Tags);
        if (chunk.Vector is { Length: > 0 } v) vectors.Add((slot, v));
        return slot;
    }

    private void RemoveSlot(int slot)
    {
        _lexical.Remove(slot);
        if (_chunks.NodeOf(slot) is var node and >= 0) _hnsw!.Delete(node);
        _chunks.Remove(slot);
    }
}
