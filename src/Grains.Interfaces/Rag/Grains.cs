using Orleans;
using Orleans.Concurrency;

namespace RagCluster.Grains.Interfaces.Rag;

/// <summary>
/// Key: "tenant.collection" (see TenantScope). Settings, document registry and the version that cache keys include.
/// A collection exists once created (or, for data from before explicit creation, once it indexed a document).
/// </summary>
[Alias("rc.ICollectionGrain")]
public interface ICollectionGrain : IGrainWithStringKey
{
    // The reads interleave: they return what the activation holds (what storage confirmed), so a search never waits
    // behind a sweep or a registry write.
    /// <summary>Settings, version and counts: held in memory, so it costs the same at any size (every search asks).</summary>
    [AlwaysInterleave]
    Task<CollectionInfo> GetInfo();
    /// <summary>Just the settings: what every indexing pass needs.</summary>
    [AlwaysInterleave]
    Task<CollectionSettings> GetSettings();
    /// <summary>Created and not yet dropped (true while a delete runs, so the delete can be repeated).</summary>
    [AlwaysInterleave]
    Task<bool> Exists();
    /// <summary>A delete has begun and not yet finished.</summary>
    [AlwaysInterleave]
    Task<bool> IsDeleting();
    /// <summary>Registered documents with ids after <paramref name="after"/> (null: from the first), in the store's key order.</summary>
    [AlwaysInterleave]
    Task<DocumentPage> ListDocuments(string? after, int limit);
    /// <summary>Creates the collection with these settings; a conflict if it exists.</summary>
    Task<CollectionSettings> Create(CollectionSettings settings);
    /// <summary>
    /// Changes settings. A new shard count on a collection with documents starts an online reshard (see
    /// <see cref="CollectionInfo.Resharding"/>): the returned settings still name the serving count until it ends.
    /// </summary>
    Task<CollectionSettings> Configure(CollectionSettings settings);
    /// <summary>
    /// Interleaves: changes that arrive while the registry is being written share the next write. Registering
    /// (<paramref name="present"/>) fails with CollectionGoneException once a delete has begun. The caller names the
    /// layout generations its shard writes reached (null: generation 0 alone); one that missed a layout the collection
    /// now writes gets ShardLayoutChangedException and writes again. A document accepted by another
    /// <paramref name="incarnation"/> (0: unknown) is not this collection's: registering it fails with
    /// CollectionGoneException, and its removal changes nothing.
    /// </summary>
    [AlwaysInterleave]
    Task<long> DocumentChanged(string documentId, bool present, int[]? wroteLayouts = null, long incarnation = 0);
    /// <summary>Many documents registered in one write (a restore), written to the shards of <paramref name="wroteLayout"/>.</summary>
    [AlwaysInterleave]
    Task<long> DocumentsAdded(string[] documentIds, int wroteLayout = 0, long incarnation = 0);
    /// <summary>
    /// Starts a restore into this (new) collection: it is created with <paramref name="settings"/> but does not exist for
    /// anyone else (Exists is false, Create a conflict) until <see cref="EndRestore"/>, and <paramref name="documents"/>
    /// versions are set aside. The restore holds a lease (Backup:RestoreLease) that <see cref="RenewRestore"/> extends;
    /// if it lapses (the restoring silo died) the collection drops what the restore wrote, by itself, after a restart too.
    /// </summary>
    Task<RestoreStart> BeginRestore(CollectionSettings settings, int documents);
    /// <summary>Extends the restore's lease; CollectionGoneException if the restore was given up meanwhile.</summary>
    [AlwaysInterleave]
    Task RenewRestore(long incarnation);
    /// <summary>Registers restored documents with their records (their chunks are in the shards already); not visible until the restore ends.</summary>
    [AlwaysInterleave]
    Task RestoreDocuments(string[] documentIds, DocumentRecord[] records, long incarnation);
    /// <summary>The restore is complete: the collection exists from now on, with everything registered.</summary>
    Task EndRestore(long incarnation);
    /// <summary>Gives the restore up: what it registered goes, the collection is dropped and its shards retire.</summary>
    Task AbandonRestore(long incarnation);
    /// <summary>Asks a reshard in progress to go on (it also resumes by itself on activation and on a reminder).</summary>
    Task ResumeResharding();
    /// <summary>
    /// Records documents about to be stored as pending, before they are: until each settles (indexed, failed or
    /// deleted) the collection keeps a reminder whose sweep activates it, so no crash can strand it. Returns the
    /// acceptance's stamp (the clock's ticks, made unique within the collection's activation), which the document
    /// names in <see cref="DocumentSettled"/>. Fails with CollectionGoneException once a delete has begun.
    /// </summary>
    /// A document a bulk write has in flight is not accepted: it is named in <see cref="Acceptance.Busy"/>, and nothing
    /// of it is noted.
    [AlwaysInterleave]
    Task<Acceptance> DocumentsAccepted(string[] documentIds);
    /// <summary>
    /// The first step of a bulk write (documents that need no pipeline: one chunk, vectors given): for each entry the
    /// collection decides, in its one order of changes, whether the bulk path may write it and at which version, and
    /// notes those it may as in flight (stored before it returns), so a crash before <see cref="EndBulk"/> is settled by
    /// the sweep, and no grain-path write of the same id interleaves. Fails with CollectionGoneException once a delete has begun.
    /// </summary>
    [AlwaysInterleave]
    Task<BulkAcceptance> BeginBulk(BulkEntry[] entries);
    /// <summary>
    /// The last step of a bulk write, once every layout's shards hold the records' chunks: each document is registered
    /// with its record (one write for all). A record whose in-flight note was replaced meanwhile (a newer write of the
    /// same id) is skipped. ShardLayoutChangedException: the caller missed a layout, and writes again.
    /// </summary>
    /// False: the collection is being deleted (or was, and was created again since <paramref name="incarnation"/>
    /// accepted them), nothing was registered, and the caller takes the chunks out of the shards.
    [AlwaysInterleave]
    Task<bool> EndBulk(string[] documentIds, DocumentRecord[] records, int[] wroteLayouts, long incarnation = 0);
    /// <summary>The registry's record of a document written in bulk and not taken over by its grain since, or null.</summary>
    [AlwaysInterleave]
    Task<DocumentRecord?> Record(string documentId);
    /// <summary>
    /// <see cref="Record"/> for many documents in one call (two reads a call): for each id the record of a document written
    /// in bulk (pending while its text indexes), or null when only the document's own grain can say (it owns the
    /// document, is writing it, or the registry has no row of it).
    /// </summary>
    [AlwaysInterleave]
    Task<DocumentRecord?[]> BulkRecords(string[] documentIds);
    /// <summary>
    /// A document has settled since the acceptances stamped <paramref name="acceptedAt"/>: those records go, unless
    /// the document was accepted again since (a newer stamp stays). Without it the sweep finds the document settled,
    /// but only by activating it, which after a bulk load is every document again.
    /// </summary>
    [AlwaysInterleave]
    Task DocumentSettled(string documentId, long[] acceptedAt);
    /// <summary>The first step of deleting a collection: from now on no document may register (stored before it returns).</summary>
    Task BeginDelete();
    /// <summary>
    /// The last step of deleting a collection, once its documents are deleted: it stops existing (its version moves
    /// on, so cached answers are dead) and the name is free again. A conflict while documents remain.
    /// </summary>
    Task Drop();
}

/// <summary>A document grain's key, "collection/documentId" (a collection key holds no '/'), spelled once.</summary>
public static class DocumentGrainKey
{
    public static IDocumentGrain Document(this IGrainFactory grains, string collectionKey, string documentId) =>
        grains.GetGrain<IDocumentGrain>(Of(collectionKey, documentId));

    public static string Of(string collectionKey, string documentId) => $"{collectionKey}/{documentId}";

    public static (string CollectionKey, string DocumentId) Parse(string key)
    {
        var slash = key.IndexOf('/');
        return (key[..slash], key[(slash + 1)..]);
    }
}

/// <summary>Key: "collection/documentId" (<see cref="DocumentGrainKey"/>). Owns one document's versions, chunks and status.</summary>
[Alias("rc.IDocumentGrain")]
public interface IDocumentGrain : IGrainWithStringKey
{
    /// <summary>Stores the content and returns at once (status pending); indexing continues in the grain.</summary>
    Task<DocumentStatus> Ingest(IngestRequest request);
    Task<DocumentStatus> GetStatus();
    /// <summary>
    /// Deletes the document: its chunks leave every shard and it leaves the collection. True when there was something to
    /// delete, including a delete that failed part-way, which a repeated call finishes; false when there was nothing.
    /// </summary>
    Task<bool> Delete();
    /// <summary>What a backup keeps of the document besides its chunks.</summary>
    Task<RestoredDocument?> Export();
}

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
    /// <summary>(documentId, chunk count) for consistency checks.</summary>
    Task<Dictionary<string, int>> ChunkCounts();
    /// <summary>Live chunks with their vectors, a page at a time, for backups; pass the returned cursor to continue.</summary>
    Task<ShardExportPage> Export(int cursor, int maxChunks);
    /// <summary>The chunks this shard holds of these documents (with vectors when asked), to read documents back; cursor -1.</summary>
    Task<ShardExportPage> Documents(string[] documentIds, bool includeVectors);
}

/// <summary>
/// Key: an embedding silo's address (parsable form); the activation lives on that silo and runs its model. Silos
/// without the embedding role send their texts here; placement refuses a silo that does not offer the role.
/// </summary>
[Alias("rc.IEmbeddingGrain")]
public interface IEmbeddingGrain : IGrainWithStringKey
{
    /// <summary>
    /// Embeds model inputs (word-piece ids, framed by the caller's tokenizer). A document's chunks can wait behind a
    /// long ingest queue on a busy embedding silo, so this call may take longer than the cluster's call timeout.
    /// </summary>
    [ResponseTimeout("00:05:00")]
    Task<float[][]> EmbedTokens(int[][] sequences, bool isQuery);
}

/// <summary>Key: collection name. Runs queries (candidate plans, fan-out, fusion) and learns which plan wins.</summary>
[Alias("rc.IQueryPlanGrain")]
public interface IQueryPlanGrain : IGrainWithStringKey
{
    /// <summary>A search; cancelling <paramref name="cancellationToken"/> (the HTTP request went away) stops it where it waits.</summary>
    Task<SearchResponse> Search(SearchRequest request, CancellationToken cancellationToken = default);
    Task<PlanStats> GetStats();
}

/// <summary>Key: "cache/N", N = hash(query key) % partitions. L2 (memory) backed by L3 (its stored state).</summary>
[Alias("rc.ICacheGrain")]
public interface ICacheGrain : IGrainWithStringKey
{
    Task<CacheLookup> Get(string key);
    Task Set(string key, SearchResponse value);
    Task<CacheStats> GetStats();
}

/// <summary>Key: the key id (the public part of an API key). Holds only a hash of the secret.</summary>
[Alias("rc.IApiKeyGrain")]
public interface IApiKeyGrain : IGrainWithStringKey
{
    Task<ApiKeyInfo> Create(string tenant, string role, string description);
    Task<ApiKeyCheck> Verify(string secret);
    /// <summary>Replaces the secret: the old one stops working at once.</summary>
    Task<ApiKeyInfo> Rotate();
    Task<ApiKeyInfo> Revoke();
    Task<ApiKeyInfo?> GetInfo();
}

/// <summary>Key: tenant name. The tenant's key ids and collection names, for listing.</summary>
[Alias("rc.ITenantGrain")]
public interface ITenantGrain : IGrainWithStringKey
{
    Task AddKey(string keyId);
    Task<string[]> KeyIds();
    Task AddCollection(string collection);
    Task RemoveCollection(string collection);
    Task<string[]> Collections();
}

/// <summary>Key: "bootstrap". Issues the first admin key once per cluster when none is configured.</summary>
[Alias("rc.IBootstrapGrain")]
public interface IBootstrapGrain : IGrainWithStringKey
{
    /// <summary>A new admin key (secret included) the first time it is called in the cluster's life; null after.</summary>
    Task<ApiKeyInfo?> IssueOnce(string tenant);
}

/// <summary>Key: the UTC day, "yyyy-MM-dd". Who did what, when: writes and admin actions, append-only.</summary>
[Alias("rc.IAuditGrain")]
public interface IAuditGrain : IGrainWithStringKey
{
    Task Append(AuditEntry entry);
    Task<AuditEntry[]> Query(AuditQuery query);
}
