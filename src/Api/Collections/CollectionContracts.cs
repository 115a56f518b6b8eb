using RagCluster.Grains.Interfaces.Collections;

namespace RagCluster.Api.Collections;

/// <summary>
/// The body of POST /v1/collections; unset numbers take the cluster's defaults. "dimensions" makes a collection of own
/// vectors; "replicationFactor" (1..the active silos; 1) keeps that many copies of each shard; "fields" declares tags'
/// types (string, integer, float, boolean, datetime, string[], or text: a full-text field BM25 indexes on its own), checked on every document and filter; "accessField"
/// names the tag (a string[] of groups) that says who reads each document; "indexKind" is "hnsw" (a graph walk, the
/// default) or "flat" (every vector compared exactly); "distance" (own vectors) is "cosine" (the default), "dot" or "l2";
/// "language" picks BM25's analyzer (english, the default; german, french, spanish, italian, portuguese, dutch, russian,
/// chinese, or standard: no stop words, no stemming); "graphLinks" names declared string or string[] fields whose values
/// get graph links of their own, as the access field's do (fixed at creation).
/// </summary>
public sealed record CreateCollectionRequest(string? Name, int? ShardCount = null, int? ChunkMaxTokens = null, int? ChunkOverlapTokens = null, int? Dimensions = null,
    string? Quantization = null, int? ReplicationFactor = null, Dictionary<string, string>? Fields = null, string? AccessField = null, string? IndexKind = null,
    string? Distance = null, string? Language = null, string[]? GraphLinks = null);

/// <summary>
/// The body of PUT /v1/collections/{collection}: what to change; unset values keep theirs ("fields" replaces the declared
/// fields whole; {} declares none; "accessField": "" removes the access field, which only a tenant admin may change;
/// "graphLinks" other than the collection's is a 409: they are fixed at creation).
/// </summary>
public sealed record ConfigureCollectionRequest(int? ShardCount = null, int? ChunkMaxTokens = null, int? ChunkOverlapTokens = null, int? ReplicationFactor = null,
    Dictionary<string, string>? Fields = null, string? AccessField = null, string[]? GraphLinks = null);

/// <summary>A collection's settings as created or configured; <see cref="Resharding"/> is set while a new shard count is being copied.</summary>
public sealed record CollectionSettingsReply(string Collection, CollectionSettings Settings, ReshardProgress? Resharding = null);

/// <summary>
/// A collection now: its settings, version, documents, documents not yet settled, and a reshard under way. The counts
/// are of every document, so in a collection with an access field they are null to a caller who does not see every one.
/// </summary>
public sealed record CollectionReply(string Collection, CollectionSettings Settings, long Version, int? DocumentCount, int? UnsettledCount,
    ReshardProgress? Resharding);

/// <summary>A page of document ids; pass <see cref="Next"/> back as "after" until it is null.</summary>
public sealed record DocumentIdsPage(string[] DocumentIds, string? Next);
