namespace RagCluster.Grains.Interfaces.Embedding;

/// <summary>One silo's embedding: whether it runs the model (Available; it may not have loaded it yet), on what, and how much it has done.</summary>
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
    /// <summary>Whether the model is in memory now: it loads with the first text to embed (or at start, Embedding:LoadAtStart).</summary>
    [Id(12)] public bool Loaded { get; init; }
}
