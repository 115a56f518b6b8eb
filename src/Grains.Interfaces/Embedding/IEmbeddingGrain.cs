namespace RagCluster.Grains.Interfaces.Embedding;

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
