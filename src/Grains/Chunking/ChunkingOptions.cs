namespace RagCluster.Grains.Chunking;

public sealed class ChunkingOptions
{
    public int MaxTokens { get; set; } = 256;
    public int OverlapTokens { get; set; } = 32;

    public void Validate()
    {
        if (MaxTokens is < 16 or > 8192) throw new ArgumentException("Chunking:MaxTokens must be 16..8192");
        if (OverlapTokens < 0 || OverlapTokens >= MaxTokens / 2) throw new ArgumentException("Chunking:OverlapTokens must be 0..MaxTokens/2");
    }
}
