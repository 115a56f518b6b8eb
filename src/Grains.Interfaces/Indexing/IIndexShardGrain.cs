using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Metadata;

namespace RagCluster.Grains.Interfaces.Indexing;

/// <summary>Key: see <see cref="ShardLayout.ShardKey"/> ("collection/shardNo" or "collection/L{generation}x{count}/shardNo"). HNSW + BM25 over the shard's chunks, persisted as snapshot + log.</summary>
[Alias("rc.IIndexShardGrain")]
public interface IIndexShardGrain : IGrainWithStringKey
{
    /// <summary>Replaces every chunk of the document with these (idempotent; older versions are ignored).</summary>
    Task Upsert(string documentId, long version, ChunkRecord[] chunks);
    /// <summary>
    /// Many documents' Upserts in one log write and one bulk graph insert (restores, bulk loads). Cancelled before the
    /// write begins (a restore given up while the shard was still loading), it writes nothing; once begun, the write is whole.
    /// </summary>
    Task UpsertMany(ShardUpsert[] documents, CancellationToken cancellationToken = default);
    /// <summary>
    /// Adds chunks to a document's version, as a reshard copies them in from several old shards: an older version held
    /// here is replaced, the same version gains the chunks it lacks (by chunk id), a newer one (or a removal) wins.
    /// </summary>
    Task Merge(ShardUpsert[] documents);
    /// <summary>
    /// Ends a shard a reshard has replaced: its content is dropped (storage keeps a small tombstone), and from then on it
    /// refuses writes and searches with ShardLayoutChangedException, so a caller that read old settings asks again.
    /// </summary>
    Task Retire();
    Task RemoveDocument(string documentId, long version);
    /// <summary>
    /// The document's chunks held here take <paramref name="tags"/> and <paramref name="version"/>, their text and vectors
    /// unchanged (a metadata update: no chunking, no embedding, no vector in the log); nothing when this shard holds the
    /// document at that version or later, or does not hold it.
    /// </summary>
    Task Retag(string documentId, long version, Dictionary<string, string> tags);
    /// <summary>The version this shard holds of each document it holds (or removed: the removal's version) among these.</summary>
    Task<Dictionary<string, long>> Versions(string[] documentIds);
    Task<ShardResult> Search(ShardQuery query);
    /// <summary>
    /// To a follower copy: the primary appended these log entries (serialized, as stored) from <paramref name="firstSeq"/>
    /// on; none: only wake and catch up from storage. A follower that missed some reads them from storage. A negative
    /// <paramref name="firstSeq"/>: the primary was retired (a reshard replaced it, or its collection was deleted), so
    /// the follower lets its copy go.
    /// </summary>
    [OneWay] Task Follow(long firstSeq, byte[][] entries);
    /// <summary>To a primary: its collection now wants this many copies of each shard (a PUT changed replicationFactor).</summary>
    [OneWay] Task Replicate(int copies);
    Task<ShardStats> GetStats();
    /// <summary>
    /// Whether this copy is loaded and on its home silo (answering at all means loaded: calls wait out an activation).
    /// Asked by the shard's other copies before one leaves its silo, so that a shard always has a copy serving.
    /// </summary>
    [AlwaysInterleave] Task<bool> Settled();
    /// <summary>(documentId, chunk count) for consistency checks.</summary>
    Task<Dictionary<string, int>> ChunkCounts();
    /// <summary>Live chunks with their vectors, a page at a time, for backups; pass the returned cursor to continue.</summary>
    Task<ShardExportPage> Export(int cursor, int maxChunks);
    /// <summary>The chunks this shard holds of these documents (with vectors when asked), to read documents back; cursor -1.</summary>
    Task<ShardExportPage> Documents(string[] documentIds, bool includeVectors);
    /// <summary>
    /// Up to <paramref name="limit"/> ids of documents held here with a chunk <paramref name="filter"/>
    /// matches, in ordinal order after <paramref name="after"/>: a page of a filtered listing, from the tag index.
    /// </summary>
    Task<string[]> MatchingDocuments(FilterTerm filter, string? after, int limit);
}
