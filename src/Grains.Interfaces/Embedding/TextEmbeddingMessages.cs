namespace RagCluster.Grains.Interfaces.Embedding;

/// <param name="Texts">The texts, each embedded whole.</param>
/// <param name="Model">The model the caller names (null or empty: the cluster's own).</param>
/// <param name="Dimensions">The dimensions the caller names (null: the model's own; any other is refused).</param>
[GenerateSerializer, Immutable, Alias("rc.TextsToEmbed")]
public sealed record TextsToEmbed(string[] Texts, string? Model, int? Dimensions);

/// <summary>The vectors in the texts' order, the model that made them, and the word pieces read.</summary>
[GenerateSerializer, Immutable, Alias("rc.EmbeddedTexts")]
public sealed record EmbeddedTexts(float[][] Vectors, string Model, int Tokens);

/// <param name="Unavailable">Null when texts can be embedded now; else why not, in one line.</param>
/// <param name="Model">The model's name; null when none is configured.</param>
[GenerateSerializer, Immutable, Alias("rc.EmbeddingAvailability")]
public sealed record EmbeddingAvailability(string? Unavailable, string? Model);
