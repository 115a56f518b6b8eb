using RagCluster.Grains.Text;

namespace RagCluster.Grains.Embedding;

/// <summary>What the embedding service runs its inferences on: word-piece sequences in, one vector each out.</summary>
public interface ITextEncoder : IDisposable
{
    WordPieceTokenizer Tokenizer { get; }
    /// <summary>Sequence length limit, special tokens included.</summary>
    int MaxTokens { get; }
    int Dimensions { get; }
    /// <summary>Where inferences run: "CPU", "CUDA:0", or "none" for an encoder without a model.</summary>
    string ExecutionProvider { get; }
    /// <summary>One line for the service's status: what runs, and on what.</summary>
    string Description { get; }
    /// <summary>The GPU's name and memory when inferences run on one; null otherwise.</summary>
    string? Device => null;

    /// <summary>One inference over a batch; returns one vector per sequence. Safe to call from several threads at once.</summary>
    float[][] Encode(IReadOnlyList<int[]> sequences);

    /// <summary>Tokenises with [CLS]/[SEP] and the length limit.</summary>
    int[] TokenIds(string text) => Tokenizer.Encode(text, MaxTokens);
}
