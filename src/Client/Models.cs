using System.Text.Json.Serialization;

namespace RagCluster.Client;

// The API's JSON shapes (camelCase). A test checks each against the OpenAPI document's schema of the same name.

/// <summary>A new collection: unset numbers take the cluster's defaults; <see cref="Dimensions"/> makes a collection of own vectors.</summary>
public sealed record CreateCollectionRequest(string Name)
{
    public int? ShardCount { get; init; }
    public int? ChunkMaxTokens { get; init; }
    public int? ChunkOverlapTokens { get; init; }
    public int? Dimensions { get; init; }
    /// <summary>"float32" (default) or "int8".</summary>
    public string? Quantization { get; init; }
    /// <summary>Copies of each shard, 1 (default) up to the active silos.</summary>
    public int? ReplicationFactor { get; init; }
    /// <summary>Tag types to enforce, by tag name: string, integer, float, boolean, datetime, string[] or text (a full-text field, fixed at creation).</summary>
    public Dictionary<string, string>? Fields { get; init; }
    /// <summary>The tag (an array of group names) that says who reads each document; a reader sees those of its key's groups.</summary>
    public string? AccessField { get; init; }
    /// <summary>"hnsw" (default: a graph walk) or "flat" (every vector compared exactly).</summary>
    public string? IndexKind { get; init; }
    /// <summary>How own vectors compare: "cosine" (default), "dot" (inner product) or "l2" (Euclidean; a hit scores minus its distance).</summary>
    public string? Distance { get; init; }
    /// <summary>BM25's analyzer: "english" (default), "german", "french", "spanish", "italian", "portuguese", "dutch", "russian", "chinese" or "standard".</summary>
    public string? Language { get; init; }
    /// <summary>Declared string or string[] fields whose values get graph links, as the access field's do (fixed at creation).</summary>
    public string[]? GraphLinks { get; init; }
}

/// <summary>What to change in a collection; unset numbers keep their value. A new shard count reshards online.</summary>
public sealed record ConfigureCollectionRequest
{
    public int? ShardCount { get; init; }
    public int? ChunkMaxTokens { get; init; }
    public int? ChunkOverlapTokens { get; init; }
    /// <summary>Copies of each shard, up to the active silos; changed live.</summary>
    public int? ReplicationFactor { get; init; }
    /// <summary>The declared tag types, replaced whole ({} declares none).</summary>
    public Dictionary<string, string>? Fields { get; init; }
    /// <summary>The access field ("" removes it); only a tenant admin may change it.</summary>
    public string? AccessField { get; init; }
    /// <summary>The collection's linked fields as created (another list is a 409: they are fixed at creation).</summary>
    public string[]? GraphLinks { get; init; }
}

public sealed record CollectionSettings(int ShardCount, int ChunkMaxTokens, int ChunkOverlapTokens)
{
    public int? Dimensions { get; init; }
    public int LayoutGeneration { get; init; }
    public ShardLayout? ReshardingTo { get; init; }
    public string? Quantization { get; init; }
    /// <summary>Copies of each shard on distinct silos (1: the primary alone).</summary>
    public int ReplicationFactor { get; init; } = 1;
    /// <summary>Declared tag types by name (string, integer, float, boolean, datetime, string[], text); null: none.</summary>
    public Dictionary<string, string>? Fields { get; init; }
    /// <summary>The tag that names each document's reader groups; null: every reader of the tenant sees every document.</summary>
    public string? AccessField { get; init; }
    /// <summary>"hnsw" (default: a graph walk) or "flat" (every vector compared exactly).</summary>
    public string? IndexKind { get; init; }
    /// <summary>"cosine" (null), "dot" or "l2".</summary>
    public string? Distance { get; init; }
    /// <summary>BM25's language: "english" (null) or another the API lists.</summary>
    public string? Language { get; init; }
    /// <summary>Declared string or string[] fields whose values get graph links, as the access field's do; null: none.</summary>
    public string[]? GraphLinks { get; init; }
}

public sealed record ShardLayout(int Generation, int ShardCount);

public sealed record ReshardProgress(int ShardCount, int OldShardsCopied, int OldShards, long ChunksCopied);

public sealed record CollectionSettingsReply(string Collection, CollectionSettings Settings, ReshardProgress? Resharding = null);

/// <summary>A collection now; the counts are null to a caller who does not see every document of a collection with an access field.</summary>
public sealed record CollectionReply(string Collection, CollectionSettings Settings, long Version, int? DocumentCount, int? UnsettledCount, ReshardProgress? Resharding);

public sealed record DocumentIdsPage(string[] DocumentIds, string? Next);

/// <summary>The collection an alias is to name.</summary>
public sealed record SetAliasRequest(string Collection);

/// <summary>An alias, the collection it names, and when it was last set.</summary>
public sealed record AliasReply(string Alias, string Collection, DateTimeOffset UpdatedAt);

/// <summary>
/// One document: <see cref="Text"/>, or a file's bytes (<see cref="ContentBase64"/> with <see cref="Format"/>), or, for a
/// collection of own vectors, <see cref="Chunks"/> with their vectors.
/// </summary>
public sealed record DocumentInput(string Id)
{
    public string? Text { get; init; }
    /// <summary>Tags by name: a string, a number, a boolean, a <see cref="DateTimeOffset"/> (or an ISO 8601 string with an offset), or an array of strings each.</summary>
    public Dictionary<string, object>? Tags { get; init; }
    /// <summary>txt, md, html, pdf, docx, …; by default from the content.</summary>
    public string? Format { get; init; }
    public string? ContentBase64 { get; init; }
    public List<ChunkInput>? Chunks { get; init; }
}

/// <summary>A chunk with its own vector: <see cref="Vector"/> as numbers, or <see cref="VectorBase64"/> as little-endian float32.</summary>
public sealed record ChunkInput(string Text)
{
    public float[]? Vector { get; init; }
    public string? VectorBase64 { get; init; }
}

public sealed record DocumentAccepted(string DocumentId, string Status, long Version);

/// <summary>Why one document of a request was refused; <see cref="RetryAfter"/> (seconds) when sending it again later can succeed.</summary>
public sealed record IngestRejection(int Status, string Title, string Detail, int? RetryAfter = null);

public sealed record BatchItem(string? DocumentId, string Status, long? Version = null, IngestRejection? Error = null);

public sealed record BatchAccepted(int Accepted, int Rejected, BatchItem[] Documents);

/// <summary>One document's tag changes in a batch PATCH: merged into its tags, a null value removes a tag.</summary>
public sealed record TagUpdate(string Id, IReadOnlyDictionary<string, object?> Tags);

/// <summary>accepted, pending, indexed, failed (see <see cref="Error"/>) or, in a statuses read, notFound.</summary>
public sealed record DocumentStatusReply(string DocumentId, string Status, long Version, int ChunkCount, string? Error, DateTimeOffset UpdatedAt, string? Waiting = null);

/// <summary>The statuses asked for; <see cref="Next"/> (filtered reads) is the after of the following page, null on the last.</summary>
public sealed record DocumentStatusesReply(DocumentStatusReply[] Documents, string? Next = null);

/// <summary>One chunk as the index holds it; <see cref="Vector"/> (scaled to length 1) only when asked for.</summary>
public sealed record ChunkContent(string ChunkId, int Ordinal, string Text, int Start, int End, string[] HeadingPath, float[]? Vector = null);

/// <summary>A document as the index holds it: version, tags (JSON values: strings, numbers, booleans, datetimes as ISO 8601 UTC strings, arrays) and chunks.</summary>
public sealed record DocumentContent(string DocumentId, long Version, Dictionary<string, System.Text.Json.JsonElement> Tags, ChunkContent[] Chunks);

public sealed record DocumentContentsReply(DocumentContent[] Documents);

/// <summary>A search: <see cref="Query"/> text, and/or a query vector for collections of own vectors.</summary>
public sealed record SearchRequest(string? Query)
{
    public int? TopK { get; init; }
    /// <summary>A filter on tags, anything that serializes to the filter language's JSON: a dictionary of equalities, a JsonNode, an anonymous object.</summary>
    public object? Filter { get; init; }
    /// <summary>auto (default), vector, bm25, hybrid or hybrid-k10.</summary>
    public string? Plan { get; init; }
    public float[]? Vector { get; init; }
    public string? VectorBase64 { get; init; }
    public int? Ef { get; init; }
    /// <summary>any (default: any copy of each shard) or primary (only the copies that take writes).</summary>
    public string? Consistency { get; init; }
    /// <summary>Read your writes: document ids with the version their ingest returned; the search waits until they are indexed (a 503 if not in time).</summary>
    public Dictionary<string, long>? ReadAfter { get; init; }
    /// <summary>"document": <see cref="TopK"/> documents, each with its <see cref="GroupSize"/> best chunks (in <see cref="SearchReply.Groups"/>).</summary>
    public string? GroupBy { get; init; }
    public int? GroupSize { get; init; }
    /// <summary>Hits below this score are dropped (the plan's score: cosine similarity, BM25, or a fused rank score).</summary>
    public double? ScoreThreshold { get; init; }
    /// <summary>Hits (or groups) to skip, for paging; offset + topK at most 1,000.</summary>
    public int? Offset { get; init; }
    /// <summary>How the hybrid plan fuses vector and BM25: "rrf" (default) or "relative" (relative score fusion).</summary>
    public string? Fusion { get; init; }
    /// <summary>The vector side's weight in the hybrid plan, 0..1.</summary>
    public double? Alpha { get; init; }
    /// <summary>A text field the collection declares ("text" in its fields): BM25 matches the query in it rather than in the chunks' text.</summary>
    public string? TextField { get; init; }
    /// <summary>Answer with <see cref="SearchReply.Explain"/>: the search's steps and how each shard searched (computed afresh, never cached).</summary>
    public bool? Explain { get; init; }
}

public sealed record SearchHitReply(string DocumentId, string ChunkId, string Text, double Score, int Start, int End, string[] HeadingPath);

public sealed record SearchReply(string? TraceId, string Plan, bool Cached, string? CacheTier, double ElapsedMs, string[] CandidatePlans, SearchHitReply[] Hits,
    SearchGroupReply[]? Groups = null, SearchExplain? Explain = null);

/// <summary>How a search ran: its steps with their times, and each shard's plan.</summary>
public sealed record SearchExplain(string Steps, ShardExplain[] Shards);

/// <summary>
/// <see cref="Dense"/>: how the shard found its dense hits: "graph" (the walk), "exact" (each vector compared), "value-links" (the
/// graphs of the filter's access groups or linked values), "two-hop" (the filtered walk of the main graph), or "measure-all" (a large shard's walk of the main graph, every node met measured); null: no dense side.
/// <see cref="Matching"/>: chunks the filter (with the caller's access) keeps in the shard. <see cref="Copy"/>: 0 the primary.
/// </summary>
public sealed record ShardExplain(int Shard, string? Dense, int Matching, int Copy);

/// <summary>One document of a grouped search: its score (its best chunk's) and its best chunks.</summary>
public sealed record SearchGroupReply(string DocumentId, double Score, SearchHitReply[] Hits);

public sealed record AskRequest(string Question)
{
    public int? TopK { get; init; }
    /// <summary>A filter on tags, as <see cref="SearchRequest.Filter"/>.</summary>
    public object? Filter { get; init; }
    /// <summary>A follow-up's conversation: the id an earlier reply gave, or <see cref="NewConversation"/> to start one. Not with <see cref="History"/>.</summary>
    public string? ConversationId { get; init; }
    /// <summary>A follow-up's earlier turns, oldest first, kept by the caller instead of the server.</summary>
    public AskTurn[]? History { get; init; }

    /// <summary>The <see cref="ConversationId"/> that starts a conversation.</summary>
    public const string NewConversation = "new";
}

/// <summary>An earlier turn of a conversation the caller keeps.</summary>
public sealed record AskTurn(string Question, string Answer);

public sealed record CitationReply(int Number, string DocumentId, string ChunkId, int Start, int End, double Score, string Quote);

/// <summary>
/// An answer; <see cref="Mode"/> is generated, extractive or extractive-fallback (then <see cref="FallbackReason"/> says why).
/// <see cref="ConversationId"/>: the conversation the turn was kept in; <see cref="SearchedAs"/>: the queries the passages were searched with.
/// </summary>
public sealed record AskReply(string Answer, CitationReply[] Citations, string Plan, string Mode, string? FallbackReason, string? TraceId,
    string? ConversationId = null, string[]? SearchedAs = null);

public sealed record AskDone(string Plan, string Mode, string? FallbackReason, string? TraceId, string? ConversationId = null, string[]? SearchedAs = null);

/// <summary>A conversation the server keeps: its turns, oldest first, and when it expires unless asked again.</summary>
public sealed record ConversationReply(string ConversationId, DateTimeOffset ExpiresAt, ConversationTurnReply[] Turns);

public sealed record ConversationTurnReply(string Question, string Standalone, string Answer, DateTimeOffset At);

/// <summary>One event of a streamed answer: a piece of text, the citations, or the end.</summary>
public abstract record AskEvent
{
    public sealed record Token(string Text) : AskEvent;
    public sealed record Citations(CitationReply[] Items) : AskEvent;
    public sealed record Done(AskDone Summary) : AskEvent;
}

public sealed record CreateKeyRequest(string Role)
{
    /// <summary>Operators only: a tenant other than their own.</summary>
    public string? Tenant { get; init; }
    public string? Description { get; init; }
    /// <summary>The groups whose documents the key reads in collections with an access field.</summary>
    public string[]? Groups { get; init; }
}

/// <summary>A key's groups, replaced whole ([] for none).</summary>
public sealed record UpdateKeyRequest(string[] Groups);

/// <summary>An API key; <see cref="Key"/> (the secret to send) only in the create and rotate replies.</summary>
public sealed record ApiKeyReply(string KeyId, string Tenant, string Role, string Description, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string? Key,
    string[] Groups);

/// <summary>One audited request: who (key id, tenant, role), what (method and route), its target, its status and from where.</summary>
public sealed record AuditEntry(DateTimeOffset At, string? KeyId, string? Tenant, string? Role, string Action, string Target, int Status, string? RemoteAddress);

public sealed record RestoreReply(string Collection, string From, DateTimeOffset CreatedAt, int Documents, int Chunks, string[] Skipped);

/// <summary>One silo's embedding: its roles, whether it runs the model, on what, and how much.</summary>
public sealed record EmbeddingInfo(bool Available, string Status, int Dimensions, string? ExecutionProvider)
{
    public string? Device { get; init; }
    public long Texts { get; init; }
    public long Batches { get; init; }
    public double InferenceSeconds { get; init; }
    public string Silo { get; init; } = "";
    public string[] Roles { get; init; } = [];
    public double TextsPerSecond { get; init; }
    public int Queued { get; init; }
    public bool Loaded { get; init; }
}

public sealed record EmbeddingReply(bool Available, string Status, double TextsPerSecond, EmbeddingInfo[] Silos);

// Cluster and statistics
/// <summary>A collection's query plans: wins and mean latency per plan, and queries counted by how they ended.</summary>
public sealed record PlanStats(string Collection, Dictionary<string, long> Wins, Dictionary<string, double> MeanLatencyMs, long Queries, long OverBudget,
    long EmbeddingUnavailable, long Cancelled);

/// <summary>
/// One copy of one shard of a collection: what it holds, where it lives, how its snapshots and last activation went,
/// which copy it is (0: the primary) and, for a follower, how many log entries it is behind its primary.
/// </summary>
public sealed record ShardStats(int Shard, int Chunks, int Documents, int Vectors, int DeletedVectors, long MemoryBytes, int LogEntries, string? Silo,
    long SnapshotBytes, int SnapshotFailures, string? LastSnapshotError, bool Compacting, double ActivationSeconds, string? ActivationSplit,
    string? Quantization, int Tombstones, int Copy = 0, long LogPosition = 0, long? Lag = null, long LogBytes = 0);

/// <summary>Hits, misses and entries of one cache tier (L3 counts hits only).</summary>
public sealed record CacheTierReply(long Hits, long? Misses = null, long? Entries = null);

public sealed record CacheReply(CacheTierReply L1, CacheTierReply L2, CacheTierReply L3);

public sealed record ClusterMemberReply(string SiloId, string Address, string Status, string Name);

/// <summary>The membership as the answering silo sees it, and the activations per grain type on that silo.</summary>
public sealed record ClusterReply(string Silo, long ViewVersion, Dictionary<string, int> Activations, ClusterMemberReply[] Members);

/// <summary>An RFC 7807 problem as the API sends it.</summary>
internal sealed record ProblemBody(int? Status, string? Title, string? Detail, [property: JsonPropertyName("traceId")] string? TraceId);

/// <summary>What a tenant may store, each null unlimited: vectors are chunks; bytes their text and own vectors (docs/security.md).</summary>
public sealed record TenantLimits(long? Collections = null, long? Documents = null, long? Vectors = null, long? Bytes = null);

/// <summary>What a tenant (or one of its collections) holds.</summary>
public sealed record StoredUsage(long Documents, long Vectors, long Bytes);

/// <summary>What a tenant stores now, its limits, and each collection's share.</summary>
public sealed record TenantUsage(string Tenant, long Collections, long Documents, long Vectors, long Bytes, TenantLimits Limits,
    Dictionary<string, StoredUsage> ByCollection);
