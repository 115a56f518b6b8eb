using RagCluster.Configuration;

namespace RagCluster.Grains.Collections;

/// <summary>Defaults for new collections, bound from the "Collections" configuration section.</summary>
public sealed class CollectionDefaults : IValidatedOptions
{
    public int ShardCount { get; set; } = 4;
    /// <summary>
    /// Chunk length in the model's word pieces; 0: the embedding model's window (512 for arctic-xs, 256 for minilm, a
    /// ModelDirectory or none). On scifact-train, 512-token chunks with arctic-xs raised every plan's nDCG@10 (the
    /// default plan from 0.7071 to 0.7119; bench/results, issue 45).
    /// </summary>
    public int ChunkMaxTokens { get; set; }
    public int ChunkOverlapTokens { get; set; } = 32;

    /// <summary>The chunk length new collections get when <see cref="ChunkMaxTokens"/> is 0.</summary>
    public static int ModelWindow(Embedding.EmbeddingOptions embedding) => embedding.DenseConfigured ? embedding.Resolved().MaxTokens : 256;

    public void Validate()
    {
        if (ShardCount is < 1 or > 256) throw new ArgumentException("Collections:ShardCount must be 1..256");
        if (ChunkMaxTokens is < 16 or > 8192) throw new ArgumentException("Collections:ChunkMaxTokens must be 16..8192 (or 0: the model's window)");
        if (ChunkOverlapTokens < 0 || ChunkOverlapTokens >= ChunkMaxTokens / 2) throw new ArgumentException("Collections:ChunkOverlapTokens must be 0..ChunkMaxTokens/2");
    }
}
