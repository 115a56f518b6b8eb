namespace RagCluster.Grains.Interfaces.Collections;

/// <summary>
/// What a new collection asks for, as its creator said it: each null takes the cluster's default (Collections:*, or
/// the built-in one). The collection grain checks the values.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.NewCollection")]
public sealed record NewCollection(int? ShardCount, int? ChunkMaxTokens, int? ChunkOverlapTokens)
{
    /// <summary>Set to bring its own vectors of this dimension (null: the cluster's model embeds its text).</summary>
    [Id(3)] public int? Dimensions { get; init; }
    [Id(4)] public string? Quantization { get; init; }
    /// <summary>Copies of each shard, 1..the active silos (1).</summary>
    [Id(5)] public int? ReplicationFactor { get; init; }
    /// <summary>Declared tag fields and their types (empty: none).</summary>
    [Id(6)] public Dictionary<string, string>? Fields { get; init; }
    /// <summary>The tag naming each document's reader groups (empty: none).</summary>
    [Id(7)] public string? AccessField { get; init; }
    [Id(8)] public string? IndexKind { get; init; }
    [Id(9)] public string? Distance { get; init; }
    [Id(10)] public string? Language { get; init; }
    [Id(11)] public string[]? GraphLinks { get; init; }
}
