using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Vectors;
using RagCluster.Metadata;

namespace RagCluster.Grains.Indexing;

// Searches and reads: they interleave with the writer and only read what it has applied.
public sealed partial class IndexShardGrain
{
    public Task<Dictionary<string, long>> Versions(string[] documentIds)
    {
        var held = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var id in documentIds)
            if (_documents.TryGetValue(id, out var d)) held[id] = d.Version;
            else if (_tombstones.TryGet(id, out var r)) held[id] = r;
        return Task.FromResult(held);
    }

    public Task<ShardResult> Search(ShardQuery query)
    {
        if (_retired) throw Replaced();
        if (query.MinVersions is { Count: > 0 } wanted && wanted.FirstOrDefault(w => !IsStale(w.Key, w.Value)) is { Key: not null } missing)
            throw new NotYetReadableException($"copy {_copyNo} of shard {_shardNo} does not hold document '{missing.Key}' at version {missing.Value} yet");
        // The filter as the exact set of slots it matches (the tag index, no chunk read): its size chooses the search.
        var filter = query.Filter; // terms, parsed once by the query plan
        var allowed = filter is null ? null : _chunks.Matching(filter);
        var matching = allowed?.Count ?? _chunks.LiveCount;
        Func<int, bool>? acceptSlot = allowed is null ? null : allowed.Contains;
        var dense = Array.Empty<ShardHit>();
        string? walk = null;
        if (query.Vector is { Length: > 0 } qv && _hnsw is not null && qv.Length == _hnsw.Dimensions && query.K > 0 && matching > 0)
        {
            List<(int Node, float Distance)> found;
            if (allowed is null)
            {
                // A graph smaller than what a walk would measure anyway, or a "flat" collection (exact recall): every vector, exactly.
                var scanAll = query.Exact || _hnsw.ScanIsCheaperThanWalk(query.K, query.Ef, hnswOptions.ExactSearchThreshold);
                walk = scanAll ? ShardFilterPlan.Exact : "graph";
                found = scanAll ? _hnsw.SearchExact(qv, query.K) : _hnsw.Search(qv, query.K, query.Ef);
            }
            else
            {
                // Chosen by how many chunks the filter keeps here (ShardFilterPlan): compared one by one, or walked.
                var plan = query.Exact ? new ShardFilterPlan(ShardFilterPlan.Exact, null, [])
                    : ShardFilterPlan.Choose(filter!, matching, _hnsw, _traits.LinkedFields, hnswOptions.ExactSearchThreshold, query.Ef, hnswOptions.LinkedWalkMaxVectors);
                walk = plan.Name;
                Func<int, bool> accept = node => acceptSlot!(_nodeToSlot[node]);
                found = plan.Walk is { } how ? _hnsw.SearchFiltered(qv, query.K, query.Ef, accept, how, plan.Values)
                    : plan.Name == ShardFilterPlan.MeasureAll ? _hnsw.Search(qv, query.K, query.Ef, accept)
                    : _hnsw.SearchExact(qv, query.K, allowed.Slots().Select(_chunks.NodeOf).Where(node => node >= 0));
                RagMetrics.FilteredSearches.Add(1, RagMetrics.Tag("walk", plan.Name));
            }
            dense = found.Select(r => Hit(_nodeToSlot[r.Node], _hnsw.Score(r.Distance))).ToArray();
        }
        var (lexical, coverage) = (Array.Empty<ShardHit>(), 0f);
        if (!string.IsNullOrWhiteSpace(query.Text) && query.K > 0 && matching > 0)
        {
            var (found, covered) = _lexical.Search(query.Text, query.TextField, query.K, acceptSlot);
            (lexical, coverage) = (found.Select(r => Hit(r.Slot, r.Score)).ToArray(), covered);
        }
        return Task.FromResult(new ShardResult(_shardNo, dense, lexical)
        {
            ExactScan = walk == ShardFilterPlan.Exact, Copy = _copyNo, LexicalCoverage = coverage, Walk = walk, Matching = matching,
        });
    }

    private ShardHit Hit(int slot, float score) => _chunks.Hit(slot, score);

    public Task<ShardStats> GetStats() => Task.FromResult(new ShardStats(_shardNo, _chunks.LiveCount, _documents.Count,
        _hnsw?.LiveCount ?? 0, _hnsw?.DeletedCount ?? 0, _hnsw?.MemoryBytes ?? 0, log.EntriesSinceSnapshot, RuntimeIdentity)
    {
        SnapshotBytes = _snapshotBytes,
        SnapshotFailures = _snapshotFailures,
        LastSnapshotError = _lastSnapshotError,
        Compacting = _compaction is not null,
        ActivationSeconds = _activationSeconds,
        ActivationSplit = _activationSplit,
        Quantization = _hnsw is null ? null : Quantizations.Name(_hnsw.Encoding),
        Tombstones = _tombstones.Count,
        Copy = _copyNo,
        LogPosition = _follower?.Position ?? log.LastSeq,
        LogBytes = log.BytesSinceSnapshot,
    });

    public Task<Dictionary<string, int>> ChunkCounts() =>
        Task.FromResult(_documents.ToDictionary(d => d.Key, d => d.Value.Count, StringComparer.Ordinal));

    public Task<ShardExportPage> Documents(string[] documentIds, bool includeVectors)
    {
        if (documentIds.Length > 1000) throw new ArgumentException("at most 1000 document ids");
        if (_retired) throw Replaced();
        var chunks = new List<ChunkRecord>();
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var id in documentIds.Distinct(StringComparer.Ordinal))
        {
            if (!_documents.TryGetValue(id, out var held)) continue;
            versions[id] = held.Version;
            foreach (var slot in held.Slots)
            {
                var node = _chunks.NodeOf(slot);
                chunks.Add(_chunks.Record(slot, includeVectors && node >= 0 ? _hnsw!.Vector(node).ToArray() : null));
            }
        }
        return Task.FromResult(new ShardExportPage(chunks.ToArray(), versions, -1));
    }

    public Task<string[]> MatchingDocuments(FilterTerm filter, string? after, int limit)
    {
        if (_retired) throw Replaced();
        if (limit is < 1 or > 10_000) throw new ArgumentException("limit must be 1..10000");
        var term = filter ?? throw new ArgumentException("a filter is required");
        var ids = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var slot in _chunks.Matching(term).Slots())
        {
            var id = _chunks.DocumentId(slot);
            if (after is not null && string.CompareOrdinal(id, after) <= 0) continue;
            ids.Add(id);
            if (ids.Count > limit) ids.Remove(ids.Max!); // keep the first `limit` only
        }
        return Task.FromResult(ids.ToArray());
    }

    public Task<ShardExportPage> Export(int cursor, int maxChunks)
    {
        if (cursor < 0 || maxChunks is < 1 or > 10_000) throw new ArgumentException("cursor must be >= 0 and maxChunks 1..10000");
        if (_retired) throw Replaced();
        var chunks = new List<ChunkRecord>();
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var slot = cursor;
        for (; slot < _chunks.SlotCount && chunks.Count < maxChunks; slot++)
        {
            if (!_chunks.IsLive(slot)) continue;
            var node = _chunks.NodeOf(slot);
            var c = _chunks.Record(slot, node >= 0 ? _hnsw!.Vector(node).ToArray() : null);
            chunks.Add(c);
            versions[c.DocumentId] = _documents[c.DocumentId].Version;
        }
        return Task.FromResult(new ShardExportPage(chunks.ToArray(), versions, slot < _chunks.SlotCount ? slot : -1));
    }
}
