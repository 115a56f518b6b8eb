using RagCluster.Configuration;

namespace RagCluster.Api.Embeddings;

/// <summary>Bound from "Embeddings": the limits of <c>POST /v1/embeddings</c>.</summary>
public sealed class EmbeddingsOptions : IValidatedOptions
{
    /// <summary>Inputs one request may carry (OpenAI's own limit is 2,048; each input here is one row of an inference).</summary>
    public int MaxInputs { get; set; } = 256;

    public void Validate()
    {
        if (MaxInputs is < 1 or > 4096) throw new ArgumentException("Embeddings:MaxInputs must be 1..4096");
    }
}
