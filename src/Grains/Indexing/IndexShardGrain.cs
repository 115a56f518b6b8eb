using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.Lexical;
using RagCluster.Grains.Placement;
using RagCluster.Grains.Vectors;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using RagCluster.Storage.GrainLogs;

namespace RagCluster.Grains.Indexing;

/// <summary>A change to a shard, as appended to its log.</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardLogEntry")]
public sealed record ShardLogEntry(string DocumentId, long Version, ChunkRecord[] Chunks, bool Removed);

/// <summary>Everything a shard needs to come back without re-embedding: live chunks (vectors live in the graph).</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardSnapshot")]
public sealed record ShardSnapshot(int SlotCount, int[] LiveSlots, ChunkRecord[] Chunks, Dictionary<string, long> DocumentVersions,
    byte[]? Graph, int[] NodeToSlot);

/// <summary>
/// One shard of a collection: an HNSW graph for dense search and a BM25 index for lexical search over the same
/// chunks. Every change is appended to the shard's log before it is applied. Writes are group-committed: changes
/// that arrive while a log write is in flight go out together in the next one, and their vectors join the graph in
/// one bulk insert (several threads for a large one, as a restore makes). The log is folded into a snapshot once it
/// holds at least <see cref="SnapshotEvery"/> entries and half the last snapshot's bytes (so snapshotting costs
/// O(1) per byte written, not O(shard) per 64 entries), and on deactivation; a reactivation on any silo replays the
/// rest in bulk and never re-embeds.
/// </summary>
[RendezvousPlacement]
[Reentrant] // only Record awaits; everything else is one synchronous turn, so interleaving is at the group commit alone
public sealed class IndexShardGrain([PersistentLog("shard")] IPersistentLog log, HnswOptions hnswOptions, Serializer serializer, HomeSilo home)
    : Grain, IIndexShardGrain
{
    private const int SnapshotEvery = 64;
    private long _snapshotBytes;
    private readonly List<(ShardLogEntry Entry, TaskCompletionSource Done)> _queued = [];
    private Task? _writer;

    private readonly List<ChunkRecord?> _slots = [];
    private readonly Dictionary<string, (long Version, List<int> Slots)> _documents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _removedVersions = new(StringComparer.Ordinal);
    private readonly Bm25Index _bm25 = new();
    private HnswIndex? _hnsw;
    private readonly List<int> _nodeToSlot = [];
    private readonly Dictionary<int, int> _slotToNode = [];

    private int ShardNo => int.Parse(this.GetPrimaryKeyString().AsSpan(this.GetPrimaryKeyString().LastIndexOf('/') + 1));

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var (snapshot, entries) = await log.ReadAsync(cancellationToken);
        if (snapshot is not null)
        {
            Restore(serializer.Deserialize<ShardSnapshot>(snapshot)!);
            _snapshotBytes = snapshot.Length;
        }
        ApplyAll(entries.Select(e => serializer.Deserialize<ShardLogEntry>(e)!).ToList());
        home.Follow(this); // spread onto silos that join
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_writer is { IsCompleted: false } writer) await writer.ContinueWith(_ => { });
        if (log.EntriesSinceSnapshot > 0) await log.SnapshotAsync(serializer.SerializeToArray(TakeSnapshot()), cancellationToken);
    }

    public Task Upsert(string documentId, long version, ChunkRecord[] chunks) =>
        IsStale(documentId, version) ? Task.CompletedTask // a retry or an older version arriving late
            : Record([new ShardLogEntry(documentId, version, chunks, Removed: false)]);

    public Task UpsertMany(ShardUpsert[] documents) =>
        Record(documents.Where(d => !IsStale(d.DocumentId, d.Version)).Select(d => new ShardLogEntry(d.DocumentId, d.Version, d.Chunks, Removed: false)).ToList());

    public Task RemoveDocument(string documentId, long version) =>
        IsStale(documentId, version) ? Task.CompletedTask : Record([new ShardLogEntry(documentId, version, [], Removed: true)]);

    private bool IsStale(string documentId, long version) =>
        (_documents.TryGetValue(documentId, out var d) && d.Version >= version) ||
        (_removedVersions.TryGetValue(documentId, out var r) && r >= version);

    private Task Record(IReadOnlyList<ShardLogEntry> entries)
    {
        if (entries.Count == 0) return Task.CompletedTask;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var e in entries) _queued.Add((e, done));
        if (_writer is null or { IsCompleted: true }) _writer = WriteQueuedAsync();
        return done.Task;
    }

    // Group commit: one log write (one transaction) for everything queued, then one bulk apply.
    private async Task WriteQueuedAsync()
    {
        while (_queued.Count > 0)
        {
            var batch = _queued.ToList();
            _queued.Clear();
            try
            {
                // Two versions of one document in a batch: only the newest is written.
                var newest = new Dictionary<string, long>(StringComparer.Ordinal);
                foreach (var (e, _) in batch) newest[e.DocumentId] = Math.Max(newest.GetValueOrDefault(e.DocumentId), e.Version);
                var fresh = batch.Select(b => b.Entry).Where(e => e.Version == newest[e.DocumentId] && !IsStale(e.DocumentId, e.Version))
                    .DistinctBy(e => e.DocumentId).ToList();
                await log.AppendAsync(fresh.Select(e => serializer.SerializeToArray(e)).ToList()); // durable first: a crash after this replays it
                ApplyAll(fresh);
                foreach (var (_, done) in batch) done.TrySetResult();
            }
            catch (Exception e)
            {
                foreach (var (_, done) in batch) done.TrySetException(e);
                if (e is InconsistentStateException) { Fenced(e); return; }
                continue;
            }
            if (log.EntriesSinceSnapshot >= SnapshotEvery && log.BytesSinceSnapshot * 2 >= _snapshotBytes)
            {
                var snapshot = serializer.SerializeToArray(TakeSnapshot());
                try
                {
                    await log.SnapshotAsync(snapshot);
                    _snapshotBytes = snapshot.Length;
                }
                catch (InconsistentStateException e)
                {
                    Fenced(e);
                    return;
                }
                catch (Exception)
                {
                    // The entries are durable; the next write tries the snapshot again.
                }
            }
        }
    }

    // Another activation owns the log now: refuse what is queued (callers retry, and reach the owner) and go away.
    private void Fenced(Exception e)
    {
        foreach (var (_, done) in _queued) done.TrySetException(e);
        _queued.Clear();
        this.DeactivateOnIdle();
    }

    // Applies entries in order; their vectors join the graph in one bulk insert at the end.
    private void ApplyAll(IReadOnlyList<ShardLogEntry> entries)
    {
        var vectors = new List<(int Slot, float[] Vector)>();
        foreach (var entry in entries) Apply(entry, vectors);
        vectors.RemoveAll(v => _slots[v.Slot] is null); // replaced again later in the same batch
        if (vectors.Count == 0) return;
        _hnsw ??= new HnswIndex(vectors[0].Vector.Length, hnswOptions);
        vectors.RemoveAll(v => v.Vector.Length != _hnsw.Dimensions);
        var first = _hnsw.AddRange(vectors.Select(v => v.Vector).ToList(), threads: Environment.ProcessorCount);
        for (var i = 0; i < vectors.Count; i++)
        {
            _nodeToSlot.Add(vectors[i].Slot);
            _slotToNode[vectors[i].Slot] = first + i;
        }
    }

    private void Apply(ShardLogEntry entry, List<(int Slot, float[] Vector)> vectors)
    {
        if (_documents.Remove(entry.DocumentId, out var old))
            foreach (var slot in old.Slots) RemoveSlot(slot);
        if (entry.Removed)
        {
            _removedVersions[entry.DocumentId] = entry.Version;
            return;
        }
        _removedVersions.Remove(entry.DocumentId);
        var slots = new List<int>(entry.Chunks.Length);
        foreach (var chunk in entry.Chunks)
        {
            var slot = _slots.Count;
            _slots.Add(chunk with { Vector = null });
            _bm25.Add(slot, chunk.Text);
            if (chunk.Vector is { Length: > 0 } v) vectors.Add((slot, v));
            slots.Add(slot);
        }
        _documents[entry.DocumentId] = (entry.Version, slots);
    }

    private void RemoveSlot(int slot)
    {
        _slots[slot] = null;
        _bm25.Remove(slot);
        if (_slotToNode.Remove(slot, out var node)) _hnsw!.Delete(node);
    }

    public Task<ShardResult> Search(ShardQuery query)
    {
        var filter = query.Filter;
        Func<int, bool>? acceptSlot = filter.Count == 0 ? null : slot => _slots[slot] is { } c && filter.All(f => c.Tags.TryGetValue(f.Key, out var v) && v == f.Value);
        var dense = Array.Empty<ShardHit>();
        if (query.Vector is { Length: > 0 } qv && _hnsw is not null && qv.Length == _hnsw.Dimensions && query.K > 0)
        {
            dense = _hnsw.Search(qv, query.K, query.Ef, acceptSlot is null ? null : node => acceptSlot(_nodeToSlot[node]))
                .Select(r => Hit(_nodeToSlot[r.Node], 1f - r.Distance)).ToArray();
        }
        var lexical = string.IsNullOrWhiteSpace(query.Text) || query.K <= 0
            ? []
            : _bm25.Search(query.Text, query.K, acceptSlot).Select(r => Hit(r.Doc, r.Score)).ToArray();
        return Task.FromResult(new ShardResult(ShardNo, dense, lexical));
    }

    private ShardHit Hit(int slot, float score)
    {
        var c = _slots[slot]!;
        return new ShardHit(c.ChunkId, c.DocumentId, c.Ordinal, c.Start, c.End, c.Text, c.HeadingPath, score);
    }

    public Task<ShardStats> GetStats() => Task.FromResult(new ShardStats(ShardNo, _bm25.DocumentCount, _documents.Count,
        _hnsw?.LiveCount ?? 0, _hnsw?.DeletedCount ?? 0, _hnsw?.MemoryBytes ?? 0, log.EntriesSinceSnapshot, RuntimeIdentity));

    public Task<Dictionary<string, int>> ChunkCounts() =>
        Task.FromResult(_documents.ToDictionary(d => d.Key, d => d.Value.Slots.Count, StringComparer.Ordinal));

    public Task<ShardExportPage> Export(int cursor, int maxChunks)
    {
        if (cursor < 0 || maxChunks is < 1 or > 10_000) throw new ArgumentException("cursor must be >= 0 and maxChunks 1..10000");
        var chunks = new List<ChunkRecord>();
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var slot = cursor;
        for (; slot < _slots.Count && chunks.Count < maxChunks; slot++)
        {
            if (_slots[slot] is not { } c) continue;
            var vector = _slotToNode.TryGetValue(slot, out var node) ? _hnsw!.Vector(node).ToArray() : null;
            chunks.Add(c with { Vector = vector });
            versions[c.DocumentId] = _documents[c.DocumentId].Version;
        }
        return Task.FromResult(new ShardExportPage(chunks.ToArray(), versions, slot < _slots.Count ? slot : -1));
    }

    private ShardSnapshot TakeSnapshot()
    {
        var live = new List<int>();
        for (var i = 0; i < _slots.Count; i++) if (_slots[i] is not null) live.Add(i);
        byte[]? graph = null;
        if (_hnsw is not null)
        {
            using var ms = new MemoryStream();
            using (var w = new BinaryWriter(ms)) _hnsw.Save(w);
            graph = ms.ToArray();
        }
        var versions = _documents.ToDictionary(d => d.Key, d => d.Value.Version, StringComparer.Ordinal);
        foreach (var (doc, v) in _removedVersions) versions[doc] = -v; // negative: removed at that version
        return new ShardSnapshot(_slots.Count, live.ToArray(), live.Select(i => _slots[i]!).ToArray(), versions, graph, _nodeToSlot.ToArray());
    }

    private void Restore(ShardSnapshot s)
    {
        for (var i = 0; i < s.SlotCount; i++) _slots.Add(null);
        for (var i = 0; i < s.LiveSlots.Length; i++)
        {
            var slot = s.LiveSlots[i];
            var chunk = s.Chunks[i];
            _slots[slot] = chunk;
            _bm25.Add(slot, chunk.Text);
            if (!_documents.TryGetValue(chunk.DocumentId, out var d))
                _documents[chunk.DocumentId] = d = (s.DocumentVersions.GetValueOrDefault(chunk.DocumentId), []);
            d.Slots.Add(slot);
        }
        foreach (var (doc, v) in s.DocumentVersions)
        {
            if (v < 0) _removedVersions[doc] = -v;
            else if (!_documents.ContainsKey(doc)) _documents[doc] = (v, []); // a document with no chunks in this shard
        }
        if (s.Graph is not null)
        {
            using var r = new BinaryReader(new MemoryStream(s.Graph));
            _hnsw = HnswIndex.Load(r, hnswOptions);
            _nodeToSlot.AddRange(s.NodeToSlot);
            for (var node = 0; node < s.NodeToSlot.Length; node++)
                if (!_hnsw.IsDeleted(node)) _slotToNode[s.NodeToSlot[node]] = node;
        }
    }
}
