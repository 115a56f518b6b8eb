using RagCluster.Metadata;

namespace RagCluster.Grains.Interfaces.Indexing;

// Wire and stored types: Orleans serializers are generated for them; primary-constructor members get ids in
// declaration order, so new members go at the end. [Alias] keeps stored state readable across renames and moves.
// [Immutable]: values never changed after they are sent, so Orleans skips the defensive copy on local calls.

/// <summary>One chunk as a shard stores it.</summary>
[GenerateSerializer, Immutable, Alias("rc.ChunkRecord")]
public sealed record ChunkRecord(string ChunkId, string DocumentId, int Ordinal, int Start, int End, string Text,
    string[] HeadingPath, Dictionary<string, string> Tags, float[]? Vector);

/// <summary>One document's chunks for <c>IIndexShardGrain.UpsertMany</c>.</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardUpsert")]
public sealed record ShardUpsert(string DocumentId, long Version, ChunkRecord[] Chunks);

/// <summary>
/// What a shard is asked: a query vector (null for lexical only), query text for BM25, and a filter as the terms the
/// query plan parsed once (the access trim joined; null for none), which no shard parses again.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.ShardQuery")]
public sealed record ShardQuery(float[]? Vector, string? Text, int K, int Ef, FilterTerm? Filter)
{
    /// <summary>Documents this copy must hold at these versions or later to answer (read your writes); else it refuses with <c>NotYetReadableException</c>.</summary>
    [Id(5)] public Dictionary<string, long>? MinVersions { get; init; }

    /// <summary>Compare every vector the filter leaves rather than walk the graph (a "flat" collection).</summary>
    [Id(6)] public bool Exact { get; init; }

    /// <summary>The declared text field BM25 searches (its own statistics); null: the chunks' text.</summary>
    [Id(7)] public string? TextField { get; init; }
}

[GenerateSerializer, Immutable, Alias("rc.ShardHit")]
public sealed record ShardHit(string ChunkId, string DocumentId, int Ordinal, int Start, int End, string Text, string[] HeadingPath, float Score);

[GenerateSerializer, Immutable, Alias("rc.ShardResult")]
public sealed record ShardResult(int Shard, ShardHit[] Dense, ShardHit[] Lexical)
{
    /// <summary>The dense hits came from comparing every chunk the filter left (a selective filter), or every chunk of a shard smaller than a walk would measure, not from a graph walk.</summary>
    [Id(3)] public bool ExactScan { get; init; }
    /// <summary>Which copy of the shard answered (0: the primary; a follower may not hold the newest writes yet).</summary>
    [Id(4)] public int Copy { get; init; }
    /// <summary>The top lexical hit's score over what a chunk holding each query term once would score (0..1, capped): how much of the query the words matched here.</summary>
    [Id(5)] public float LexicalCoverage { get; init; }
    /// <summary>
    /// How the dense hits were found: "graph" (the walk, unfiltered), "exact" (each vector compared), "value-links" (the
    /// graphs of the filter's access groups or linked values), "two-hop" (the filtered walk of the main graph), or "measure-all" (a large shard's walk of the main graph, every node met measured); null: no dense side.
    /// </summary>
    [Id(6)] public string? Walk { get; init; }
    /// <summary>Chunks the query's filter keeps in this shard (what the planner chose by), or its live chunks without one.</summary>
    [Id(7)] public int Matching { get; init; }
}

[GenerateSerializer, Immutable, Alias("rc.ShardStats")]
public sealed record ShardStats(int Shard, int Chunks, int Documents, int Vectors, int DeletedVectors, long MemoryBytes, int LogEntries,
    string? Silo = null)
{
    /// <summary>Bytes of the last snapshot this activation wrote or read.</summary>
    [Id(8)] public long SnapshotBytes { get; init; }
    /// <summary>Snapshots that failed in a row (0: the last one succeeded); past a bound the shard refuses writes (503) until one succeeds.</summary>
    [Id(9)] public int SnapshotFailures { get; init; }
    [Id(10)] public string? LastSnapshotError { get; init; }
    /// <summary>A new graph without the deleted nodes is being built beside the one serving.</summary>
    [Id(11)] public bool Compacting { get; init; }
    /// <summary>Seconds this activation took to load (snapshot read and restored, log tail replayed): what a shard's move to another silo costs.</summary>
    [Id(12)] public double ActivationSeconds { get; init; }
    /// <summary>Where those seconds went: the store read, decoding the snapshot, rebuilding the indexes from it, and replaying the log tail.</summary>
    [Id(13)] public string? ActivationSplit { get; init; }
    /// <summary>How the graph holds its vectors ("float32" or "int8"); null before the shard holds any.</summary>
    [Id(14)] public string? Quantization { get; init; }
    /// <summary>Removed documents' versions the shard remembers (for Shards:TombstoneRetention, at most twice that).</summary>
    [Id(15)] public int Tombstones { get; init; }
    /// <summary>Which copy this is: 0 the primary, which takes the writes; 1.. a follower of the primary's log.</summary>
    [Id(16)] public int Copy { get; init; }
    /// <summary>The last log entry this copy holds (the primary: the last it wrote; a follower: the last it applied).</summary>
    [Id(17)] public long LogPosition { get; init; }
    /// <summary>A follower's entries behind its primary when asked (null for the primary, or a primary that did not answer).</summary>
    [Id(18)] public long? Lag { get; init; }
    /// <summary>Bytes of log entries written since the last snapshot (what a change costs the log: a tag change carries no vectors).</summary>
    [Id(19)] public long LogBytes { get; init; }
}
