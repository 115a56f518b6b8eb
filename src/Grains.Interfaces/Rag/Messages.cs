using Orleans;

namespace RagCluster.Grains.Interfaces.Rag;

// Wire and stored types: Orleans serializers are generated for them ([GenerateSerializer]; primary-constructor members
// get ids in declaration order, so new members go at the end). [Alias] keeps stored state readable across renames.
// [Immutable]: they are values, never changed after they are sent, so Orleans skips the defensive copy on local calls.

public static class DocumentStatuses
{
    public const string Pending = "pending", Indexed = "indexed", Failed = "failed", Deleted = "deleted";
    /// <summary>A document never ingested (its grain holds no version).</summary>
    public const string Unknown = "unknown";

    /// <summary>Never ingested, or deleted: what reading the document answers as not found.</summary>
    public static bool IsGone(string status) => status is Unknown or Deleted;
}

/// <summary>A document as submitted: raw bytes and the format they are in (txt, md, html, json, docx, pdf).</summary>
[GenerateSerializer, Immutable, Alias("rc.IngestRequest")]
/// <param name="AcceptedAt">Not 0: the caller already told the collection (DocumentsAccepted) about this document, as a
/// batch does for all its documents in one write, and this is the stamp the collection answered; the document then
/// skips its own notice, and names the stamp when it tells the collection it has settled.</param>
/// <param name="VersionFloor">With <paramref name="AcceptedAt"/>: the acceptance's <see cref="Acceptance.VersionFloor"/>.</param>
/// <remarks>
/// <see cref="RegistryRead"/>: the collection's registry was read for this document when it was accepted (a batch's
/// acceptance reads every id's row), and <see cref="Registry"/> is what it held, so the grain need not ask again.
/// </remarks>
public sealed record IngestRequest(string Format, byte[] Content, Dictionary<string, string> Tags, string? FileName, long AcceptedAt = 0, long VersionFloor = 0,
    bool RegistryRead = false, DocumentRecord? Registry = null)
{
    /// <summary>The incarnation of the collection that accepted it (with <see cref="AcceptedAt"/>; see <see cref="CollectionSettings.Incarnation"/>).</summary>
    [Id(8)] public long Incarnation { get; init; }
}

[GenerateSerializer, Immutable, Alias("rc.DocumentStatus")]
public sealed record DocumentStatus(string Collection, string DocumentId, string Status, long Version, int ChunkCount,
    string? Error, string? ContentHash, DateTimeOffset UpdatedAt)
{
    /// <summary>
    /// The collection's acceptance stamp of the write this state holds (0: none known, e.g. written in bulk or before
    /// stamps were kept): the sweep lets an acceptance go only once the document holds that write or a later one.
    /// </summary>
    [Id(8)] public long AcceptedStamp { get; init; }
    /// <summary>Why a pending document is not being indexed now (no silo can embed it); null while it is not held up.</summary>
    [Id(9)] public string? Waiting { get; init; }
}

/// <summary>One chunk as a shard stores it.</summary>
[GenerateSerializer, Immutable, Alias("rc.ChunkRecord")]
public sealed record ChunkRecord(string ChunkId, string DocumentId, int Ordinal, int Start, int End, string Text,
    string[] HeadingPath, Dictionary<string, string> Tags, float[]? Vector);

/// <summary>One document's chunks for <c>IIndexShardGrain.UpsertMany</c>.</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardUpsert")]
public sealed record ShardUpsert(string DocumentId, long Version, ChunkRecord[] Chunks);

/// <summary>
/// What a document written in bulk is, kept in its collection's registry instead of a grain state of its own (a bulk
/// load writes one registry row a document in one transaction a batch). The document grain takes it over, as its own
/// state, the first time the document is changed through it.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.DocumentRecord")]
public sealed record DocumentRecord(long Version, string ContentHash, int ChunkCount, Dictionary<string, string> Tags, string Format,
    int LayoutGeneration, int ShardCount, int[] HeldShards, DateTimeOffset UpdatedAt)
{
    /// <summary>The uploaded file's name, when it came as a file (a restore brings it back).</summary>
    [Id(9)] public string? FileName { get; init; }
    /// <summary>Accepted by a batch's bulk pass and not indexed yet (the collection holds the content until it is).</summary>
    [Id(10)] public bool Pending { get; init; }
}

/// <summary>A restore's start: the collection it created (not visible until the restore ends), the first of the versions it set aside for the documents, and how long the restore's lease lasts unrenewed.</summary>
[GenerateSerializer, Immutable, Alias("rc.RestoreStart")]
public sealed record RestoreStart(CollectionSettings Settings, long FirstVersion, TimeSpan Lease);

/// <summary>A document a bulk write wants to store: its id, content hash and chunk count, and its tags.</summary>
[GenerateSerializer, Immutable, Alias("rc.BulkEntry")]
public sealed record BulkEntry(string Id, string ContentHash, int ChunkCount, Dictionary<string, string> Tags, string Format)
{
    /// <summary>
    /// A text document's content, to be chunked and embedded after the acceptance: the collection keeps it with the
    /// document's in-flight note until the document is registered, so a crash before then loses nothing.
    /// </summary>
    [Id(5)] public byte[]? Content { get; init; }
    /// <summary>The silo that indexes the text (its address); the collection's sweep takes the text over once that silo is gone.</summary>
    [Id(6)] public string? Silo { get; init; }
}

/// <summary>
/// The collection's answer to a bulk write: for each entry (in order) the record to write (a new version), the record
/// already held when it has the same content (nothing to write), or null when the document must take the grain path
/// (it has a grain state of its own, or a write of it is in flight there); and the settings whose layouts to write.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.BulkAcceptance")]
public sealed record BulkAcceptance(DocumentRecord?[] Records, bool[] Unchanged, CollectionSettings Settings)
{
    /// <summary>For each entry, whether the registry held an earlier version of it, whose chunks may sit on shards the new ones miss.</summary>
    [Id(3)] public bool[]? Replaces { get; init; }
}

/// <summary>
/// The answer to DocumentsAccepted: the acceptance's stamp, the documents refused because a bulk write of them is in
/// flight, and for each id (in order) the registry's bulk record of it, if any: final from now on, since no bulk write
/// of an accepted document can begin until it settles; and the last version a bulk write gave any document, which the
/// accepted documents' next versions must pass (a bulk write cut off by a crash may still reach a shard late).
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.Acceptance")]
public sealed record Acceptance(long Stamp, string[] Busy, DocumentRecord?[] Records, long VersionFloor)
{
    /// <summary>Which creation of the collection accepted them (see <see cref="CollectionSettings.Incarnation"/>).</summary>
    [Id(4)] public long Incarnation { get; init; }
}

[GenerateSerializer, Immutable, Alias("rc.CollectionSettings")]
public sealed record CollectionSettings(int ShardCount, int ChunkMaxTokens, int ChunkOverlapTokens)
{
    /// <summary>
    /// Set when the collection brings its own vectors: documents arrive as chunks with vectors of this many dimensions
    /// and searches bring a query vector; no model runs for it. Null: the cluster's model embeds text. Fixed at creation.
    /// </summary>
    [Id(3)] public int? Dimensions { get; init; }

    /// <summary>Which generation of shards serves the collection (0: the shards it was created with; each reshard adds one).</summary>
    [Id(4)] public int LayoutGeneration { get; init; }

    /// <summary>The layout being built while the collection is resharded; null otherwise. Writers write both layouts meanwhile.</summary>
    [Id(5)] public ShardLayout? ReshardingTo { get; init; }

    /// <summary>
    /// How shards hold vectors for the graph walk: null or "float32" (the default), or "int8" (a quarter of the memory;
    /// the best candidates are rescored at full precision, read from a file outside the process). Fixed at creation.
    /// </summary>
    [Id(6)] public string? Quantization { get; init; }

    /// <summary>
    /// Which creation of the collection this is: the collection's version when it was created, so never the same twice
    /// under one name (0: created before incarnations were kept). Documents carry the incarnation that accepted them,
    /// and a collection refuses to register one of another, so a document in flight when its collection was dropped
    /// never joins a collection created later under the same name. Each incarnation also has shard keys of its own.
    /// </summary>
    [Id(7), System.Text.Json.Serialization.JsonIgnore] public long Incarnation { get; init; }

    [Id(8)] private readonly int _replicationFactor; // 0 in settings stored before copies existed: read as 1

    /// <summary>
    /// Copies of each shard, on distinct silos while there are enough: the primary takes the writes, the others follow
    /// its log and answer searches too (1, the default: the primary alone). Changeable live.
    /// </summary>
    public int ReplicationFactor { get => Math.Max(1, _replicationFactor); init => _replicationFactor = value; }

    /// <summary>The shards that serve searches now.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ShardLayout Layout => new(LayoutGeneration, ShardCount);

    /// <summary>Every layout a write must reach: the serving one, and the one being built during a reshard.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ShardLayout[] WriteLayouts => ReshardingTo is { } target ? [Layout, target] : [Layout];
}

/// <summary>
/// One generation of a collection's shards: how many there are and the grain keys they go by. Generation 0 keeps the
/// keys collections always had ("collection/3"); later generations name their count too ("collection/L1x16/3"), so
/// keys are never reused and placement can spread a layout's shards evenly over the silos.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.ShardLayout")]
public sealed record ShardLayout(int Generation, int ShardCount)
{
    public string ShardKey(string collection, int shard) =>
        Generation == 0 ? $"{collection}/{shard}" : $"{collection}/L{Generation}x{ShardCount}/{shard}";

    public IEnumerable<string> ShardKeys(string collection) => Enumerable.Range(0, ShardCount).Select(i => ShardKey(collection, i));

    /// <summary>Copy <paramref name="copy"/> of a shard: 0 is the primary (its own key), a follower's key adds "~copy".</summary>
    public static string CopyKey(string shardKey, int copy) => copy == 0 ? shardKey : $"{shardKey}~{copy}";

    /// <summary>The primary's key and the copy number of a shard copy's key.</summary>
    public static (string ShardKey, int Copy) ParseCopy(string key) =>
        key.LastIndexOf('~') is var at and > 0 && int.TryParse(key.AsSpan(at + 1), out var copy) && copy > 0 ? (key[..at], copy) : (key, 0);
}

/// <summary>How far a reshard has come: old shards copied in full, and chunks copied so far.</summary>
[GenerateSerializer, Immutable, Alias("rc.ReshardProgress")]
public sealed record ReshardProgress(int ShardCount, int OldShardsCopied, int OldShards, long ChunksCopied);

[GenerateSerializer, Immutable, Alias("rc.CollectionInfo")]
public sealed record CollectionInfo(string Collection, CollectionSettings Settings, long Version, int DocumentCount)
{
    /// <summary>Documents accepted that the collection's sweep has not yet seen settled (indexed, failed or deleted).</summary>
    [Id(5)] public int UnsettledCount { get; init; }
    /// <summary>Set while the shard count is being changed.</summary>
    [Id(6)] public ReshardProgress? Resharding { get; init; }
}

/// <summary>A page of a collection's document ids; <see cref="Next"/> is the cursor for the next page, null after the last.</summary>
[GenerateSerializer, Immutable, Alias("rc.DocumentPage")]
public sealed record DocumentPage(string[] DocumentIds, string? Next);

/// <summary>What a shard is asked: a query vector (null for lexical only), query text for BM25, and filters.</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardQuery")]
public sealed record ShardQuery(float[]? Vector, string? Text, int K, int Ef, Dictionary<string, string> Filter)
{
    /// <summary>Documents this copy must hold at these versions or later to answer (read your writes); else it refuses with <c>NotYetReadableException</c>.</summary>
    [Id(5)] public Dictionary<string, long>? MinVersions { get; init; }
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
}

[GenerateSerializer, Immutable, Alias("rc.SearchRequest")]
public sealed record SearchRequest(string Query, int TopK, Dictionary<string, string> Filter, string? Plan)
{
    /// <summary>A query vector, for collections that bring their own vectors (<see cref="CollectionSettings.Dimensions"/>); Query may then be empty.</summary>
    [Id(4)] public float[]? Vector { get; init; }
    /// <summary>HNSW search breadth per shard (1..4096; at least the candidate depth); null: the default. Higher finds more of the true nearest, slower.</summary>
    [Id(5)] public int? Ef { get; init; }
    /// <summary>
    /// Which shard copies may answer: "any" (null, the default: any copy, which may not yet hold the newest writes) or
    /// "primary" (the copies that take the writes, so every acknowledged write is seen).
    /// </summary>
    [Id(6)] public string? Consistency { get; init; }
    /// <summary>
    /// Read your writes: documents and the versions their ingest returned. The answer is given only once each is indexed
    /// at that version (or a later one), and only by shard copies that hold it; null or empty: no such wait.
    /// </summary>
    [Id(7)] public Dictionary<string, long>? ReadAfter { get; init; }
}

[GenerateSerializer, Immutable, Alias("rc.SearchHit")]
public sealed record SearchHit(string DocumentId, string ChunkId, int Ordinal, int Start, int End, string Text, string[] HeadingPath, double Score);

/// <summary><see cref="CacheTier"/>: L1 (this silo), L2 (cache grain memory), L3 (cache grain's stored state) or null (computed).</summary>
[GenerateSerializer, Immutable, Alias("rc.SearchResponse")]
public sealed record SearchResponse(string Plan, SearchHit[] Hits, bool Cached, double ElapsedMs, string[] CandidatePlans, string? CacheTier);

/// <summary><see cref="OverBudget"/>: queries that ran lexical-only because embedding exceeded half the latency budget.</summary>
[GenerateSerializer, Immutable, Alias("rc.PlanStats")]
public sealed record PlanStats(string Collection, Dictionary<string, long> Wins, Dictionary<string, double> MeanLatencyMs, long Queries, long OverBudget)
{
    /// <summary>Queries that ran on BM25 alone because no silo could embed them (none with the embedding role active, or it failed).</summary>
    [Id(5)] public long EmbeddingUnavailable { get; init; }
    /// <summary>Queries stopped because their caller cancelled them (an HTTP client that went away).</summary>
    [Id(6)] public long Cancelled { get; init; }
}

/// <summary>One silo's embedding: whether it runs the model (Available), on what, and how much it has done.</summary>
[GenerateSerializer, Immutable, Alias("rc.EmbeddingInfo")]
public sealed record EmbeddingInfo(bool Available, string Status, int Dimensions, string? ExecutionProvider)
{
    /// <summary>The GPU (name, memory) when the provider is CUDA; null on CPU.</summary>
    [Id(4)] public string? Device { get; init; }
    /// <summary>Texts embedded by this silo since it started, in how many inferences, and the seconds those took.</summary>
    [Id(5)] public long Texts { get; init; }
    [Id(6)] public long Batches { get; init; }
    [Id(7)] public double InferenceSeconds { get; init; }
    /// <summary>The silo (its address) and the roles it offers (Silo:Roles).</summary>
    [Id(8)] public string Silo { get; init; } = "";
    [Id(9)] public string[] Roles { get; init; } = [];
    /// <summary>Texts embedded per second over the last 10 s, and texts waiting for an inference now.</summary>
    [Id(10)] public double TextsPerSecond { get; init; }
    [Id(11)] public int Queued { get; init; }
}

[GenerateSerializer, Immutable, Alias("rc.CacheLookup")]
public sealed record CacheLookup(bool Found, SearchResponse? Value, string Tier);

[GenerateSerializer, Immutable, Alias("rc.CacheStats")]
public sealed record CacheStats(string Partition, int Entries, long L2Hits, long L3Hits, long Misses, long Writes)
{
    /// <summary>Rows this activation's flushes wrote: one per entry set or evicted since the flush before.</summary>
    [Id(6)] public long RowsWritten { get; init; }
}

public static class Roles
{
    /// <summary>operator: the whole cluster, every tenant. admin: its own tenant's keys, audit, backup and restore.</summary>
    public const string Operator = "operator", Admin = "admin", Writer = "writer", Reader = "reader";
    public static readonly string[] All = [Operator, Admin, Writer, Reader];

    /// <summary>Keys stored from now on say <see cref="CurrentSchema"/>; those stored before the two admin levels say 0.</summary>
    public const int CurrentSchema = 1;

    /// <summary>operator ⊃ admin ⊃ writer ⊃ reader.</summary>
    public static bool Allows(string held, string needed) => Rank(held) >= Rank(needed) && Rank(needed) > 0;

    public static int Rank(string? role) => role switch { Operator => 4, Admin => 3, Writer => 2, Reader => 1, _ => 0 };

    /// <summary>
    /// The role a stored key has now. Before the two admin levels, "admin" was the operator role: such a key of the
    /// operator's own tenant (Auth:BootstrapTenant) stays an operator on upgrade; one of any other tenant, made for that
    /// tenant's use, becomes that tenant's admin.
    /// </summary>
    public static string Upgraded(string role, int schema, string tenant, string operatorTenant) =>
        schema < CurrentSchema && role == Admin && tenant == operatorTenant ? Operator : role;
}

/// <summary>A key as admins see it; <see cref="Secret"/> is only set in the reply that created or rotated it.</summary>
[GenerateSerializer, Immutable, Alias("rc.ApiKeyInfo")]
public sealed record ApiKeyInfo(string KeyId, string Tenant, string Role, string Description, DateTimeOffset CreatedAt,
    DateTimeOffset? RevokedAt, string? Secret, int RoleSchema = Roles.CurrentSchema);

[GenerateSerializer, Immutable, Alias("rc.ApiKeyCheck")]
public sealed record ApiKeyCheck(bool Valid, string? Tenant, string? Role, string? Reason, int RoleSchema = Roles.CurrentSchema)
{
    public const string UnknownKey = "unknown key", Revoked = "key revoked", WrongSecret = "wrong secret";

    /// <summary>Whether the key id named an existing key (so a failure is a guess at that key's secret).</summary>
    public bool KeyExists => Valid || Reason is WrongSecret or Revoked;
}

/// <summary>One audited request: the caller (key id, tenant, role), the action (method and route), its target and outcome.</summary>
[GenerateSerializer, Immutable, Alias("rc.AuditEntry")]
public sealed record AuditEntry(DateTimeOffset At, string? KeyId, string? Tenant, string? Role, string Action, string Target,
    int Status, string? RemoteAddress);

[GenerateSerializer, Immutable, Alias("rc.AuditQuery")]
public sealed record AuditQuery(DateTimeOffset From, DateTimeOffset To, string? Tenant, string? KeyId, int Limit);

/// <summary>A document as a backup records it: an indexed version with its tags and provenance.</summary>
[GenerateSerializer, Immutable, Alias("rc.RestoredDocument")]
public sealed record RestoredDocument(string DocumentId, long Version, string? ContentHash, int ChunkCount, Dictionary<string, string> Tags,
    string? Format, string? FileName, DateTimeOffset UpdatedAt);

/// <summary><see cref="NextCursor"/> is -1 when the shard has no more chunks.</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardExportPage")]
public sealed record ShardExportPage(ChunkRecord[] Chunks, Dictionary<string, long> DocumentVersions, int NextCursor);
