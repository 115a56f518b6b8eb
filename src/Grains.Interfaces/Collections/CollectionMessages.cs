using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;

namespace RagCluster.Grains.Interfaces.Collections;

// Wire and stored types: Orleans serializers are generated for them; primary-constructor members get ids in
// declaration order, so new members go at the end. [Alias] keeps stored state readable across renames and moves.
// [Immutable]: values never changed after they are sent, so Orleans skips the defensive copy on local calls.

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

    /// <summary>
    /// Tags the collection declares, by name, with their types (string, integer, float, boolean, datetime, string[], text):
    /// a document's value of another type, or a filter's, is refused with a 400 naming the tag. Changeable with PUT;
    /// documents already stored keep their values. Null: none declared (every tag takes any type).
    /// </summary>
    [Id(9)] public Dictionary<string, string>? Fields { get; init; }

    /// <summary>
    /// The tag that names each document's readers, an array of group names (declared string[] in <see cref="Fields"/>):
    /// a reader sees a document only when one of its key's groups is in it (the grains' <c>DocumentAccess</c>).
    /// Null: every reader of the tenant sees every document. Changeable with PUT by a tenant admin.
    /// </summary>
    [Id(10)] public string? AccessField { get; init; }

    /// <summary>
    /// How searches find the nearest vectors: null or "hnsw" (the default), a walk of each shard's graph; or "flat", every
    /// vector a filter leaves compared exactly (exact recall, for collections small enough to scan). Fixed at creation.
    /// </summary>
    [Id(11)] public string? IndexKind { get; init; }

    /// <summary>
    /// How vectors are compared: null or "cosine" (the default: scaled to length 1 as they arrive, scored by cosine
    /// similarity), "dot" (inner product of the vectors as sent) or "l2" (Euclidean; a hit scores minus its distance).
    /// Own vectors only (the built-in model's are compared by cosine); fixed at creation.
    /// </summary>
    [Id(12)] public string? Distance { get; init; }

    /// <summary>
    /// The language BM25 cuts the collection's text into terms by, its chunks and text fields and its queries alike:
    /// null or "english" (the default), "german", "french", "spanish", "italian", "portuguese", "dutch", "russian",
    /// "chinese" or "standard" (no stop words, no stemming). Fixed at creation: another language is a reindex.
    /// </summary>
    [Id(13)] public string? Language { get; init; }

    /// <summary>
    /// Declared string or string[] fields whose values get graph links of their own in each shard, as the access field's
    /// do: a filter on a few of their values walks among the documents that hold them, at any share of the collection
    /// (docs/filters.md). Fixed at creation (each shard builds the links as documents arrive); null: the access field alone.
    /// </summary>
    [Id(14)] public string[]? GraphLinks { get; init; }

    /// <summary>The fields whose values get graph links: the access field, and <see cref="GraphLinks"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string[] LinkedFields => [.. (AccessField is { } access ? [access] : Array.Empty<string>()).Concat(GraphLinks ?? []).Distinct(StringComparer.Ordinal)];

    /// <summary>Whether searches compare every vector (<see cref="IndexKind"/> "flat") rather than walk the graph.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Flat => IndexKind == "flat";

    /// <summary>The shards that serve searches now.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ShardLayout Layout => new(LayoutGeneration, ShardCount);

    /// <summary>Every layout a write must reach: the serving one, and the one being built during a reshard.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ShardLayout[] WriteLayouts => ReshardingTo is { } target ? [Layout, target] : [Layout];
}

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

/// <summary>How far a reshard has come: old shards copied in full, and chunks copied so far.</summary>
[GenerateSerializer, Immutable, Alias("rc.ReshardProgress")]
public sealed record ReshardProgress(int ShardCount, int OldShardsCopied, int OldShards, long ChunksCopied);

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
    /// <summary>What the document will hold, to count in the collection's share (null: not counted).</summary>
    [Id(7)] public Security.StoredUsage? Size { get; init; }
    /// <summary>Who writes: an entry whose id holds a document this caller cannot see is refused (<see cref="BulkAcceptance.Hidden"/>).</summary>
    [Id(8)] public Security.ReadAccess? Writer { get; init; }
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
    /// <summary>For each entry, whether its id holds a document its writer cannot see: refused, nothing noted (its record is null).</summary>
    [Id(4)] public bool[]? Hidden { get; init; }
}
