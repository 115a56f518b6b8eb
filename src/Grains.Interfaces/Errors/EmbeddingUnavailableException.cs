namespace RagCluster.Grains.Interfaces.Errors;

/// <summary>Dense retrieval is off (no model configured or it failed to load); the reason says which. Ours and serializable, so it crosses silos as itself.</summary>
[Orleans.GenerateSerializer, Orleans.Alias("rc.EmbeddingUnavailableException")]
public sealed class EmbeddingUnavailableException : Orleans.Runtime.OrleansException
{
    public EmbeddingUnavailableException() { }

    public EmbeddingUnavailableException(string message) : base(message) { }
}
