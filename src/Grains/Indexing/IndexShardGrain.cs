using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.Lexical;
using RagCluster.Grains.Placement;
using RagCluster.Grains.Vectors;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization;
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
/// chunks. Every change is appended to the shard's log before it is applied, and the log is folded into a
/// snapshot every <see cref="SnapshotEvery"/> entries and on deactivation, so a reactivation on any silo replays
/// at most that many entries and never re-embeds.
/// </summary>
[RendezvousPlacement]
public sealed class IndexShardGrain([PersistentLog("shard")] IPersistentLog log, HnswOptions hnswOptions, Serializer serializer, HomeSilo home)
    : Grain, IIndexShardGrain
{
    private const int SnapshotEvery = 64;

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
        if (snapshot is not null) Restore(serializer.Deserialize<ShardSnapshot>(snapshot)!);
        foreach (var e in entries) Apply(serializer.Deserialize<ShardLogEntry>(e)!);
        home.Follow(this); // spread onto silos that join
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (log.EntriesSinceSnapshot > 0) await log.SnapshotAsync(serializer.SerializeToArray(TakeSnapshot()), cancellationToken);
    }

    public async Task Upsert(string documentId, long version, ChunkRecord[] chunks)
    {
        if (IsStale(documentId, version)) return; // a retry or an older version arriving late
        await Record(new ShardLogEntry(documentId, version, chunks, Removed: false));
    }

    public async Task RemoveDocument(string documentId, long version)
    {
        if (IsStale(documentId, version)) return;
        await Record(new ShardLogEntry(documentId, version, [], Removed: true));
    }

    private bool IsStale(string documentId, long version) =>
        (_documents.TryGetValue(documentId, out var d) && d.Version >= version) ||
        (_removedVersions.TryGetValue(documentId, out var r) && r >= version);

    private async Task Record(ShardLogEntry entry)
    {
        await log.AppendAsync(serializer.SerializeToArray(entry)); // durable first: a crash after this replays it
        Apply(entry);
        if (log.EntriesSinceSnapshot >= SnapshotEvery) await log.SnapshotAsync(serializer.SerializeToArray(TakeSnapshot()));
    }

    private void Apply(ShardLogEntry entry)
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
        foreach (var chunk in entry.Chunks) slots.Add(AddSlot(chunk));
        _documents[entry.DocumentId] = (entry.Version, slots);
    }

    private int AddSlot(ChunkRecord chunk)
    {
        var slot = _slots.Count;
        _slots.Add(chunk with { Vector = null });
        _bm25.Add(slot, chunk.Text);
        if (chunk.Vector is { Length: > 0 } v)
        {
            _hnsw ??= new HnswIndex(v.Length, hnswOptions);
            if (v.Length == _hnsw.Dimensions)
            {
                var node = _hnsw.Add(v);
                _nodeToSlot.Add(slot);
                _slotToNode[slot] = node;
            }
        }
        return slot;
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
