namespace RagCluster.Grains.Interfaces.Embedding;

/// <summary>
/// Key: any (the API uses "texts"). Texts embedded with the cluster's model for a caller (POST /v1/embeddings), as
/// passages, through the same batcher and silo choice as ingest; and whether the cluster embeds now. A local stateless
/// worker: it runs on the silo that asks, with that silo's tokenizer.
/// </summary>
[Alias("rc.ITextEmbeddingGrain")]
public interface ITextEmbeddingGrain : IGrainWithStringKey
{
    /// <summary>
    /// The texts' vectors, in order. <see cref="Errors.EmbeddingUnavailableException"/> when no model is configured;
    /// <see cref="Errors.InvalidRequestException"/> for another model named, a text past the model's window (it is refused,
    /// not cut as a chunk would be) or dimensions other than the model's.
    /// </summary>
    [ResponseTimeout("00:02:00")] // texts wait behind ingest on a busy embedding silo
    Task<EmbeddedTexts> Embed(TextsToEmbed texts, CancellationToken cancellationToken = default);

    /// <summary>Null when texts can be embedded now, else why not; and the model's name (null: none configured).</summary>
    Task<EmbeddingAvailability> Availability();
}
