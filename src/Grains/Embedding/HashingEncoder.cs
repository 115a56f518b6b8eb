using System.Numerics.Tensors;
using RagCluster.Grains.Text;

namespace RagCluster.Grains.Embedding;

/// <summary>
/// Vectors derived from the text with no model (Embedding:Encoder = hashing): each word piece, and each pair of
/// neighbouring pieces, adds ±1 to a dimension chosen by a hash of it (feature hashing), and the sum is L2-normalised.
/// Texts that share words land near each other, so search still finds them, but nothing is understood. It costs
/// microseconds a chunk, so an ingest measures everything around the encoder (extract, chunk, batch, store, index)
/// at the pipeline's own ceiling (issue 34, item 5), and tests get stable vectors without ONNX Runtime.
/// </summary>
public sealed class HashingEncoder(WordPieceTokenizer tokenizer, int maxTokens, int dimensions) : ITextEncoder
{
    public WordPieceTokenizer Tokenizer { get; } = tokenizer;
    public int MaxTokens { get; } = maxTokens;
    public int Dimensions { get; } = dimensions > 0 ? dimensions : throw new ArgumentOutOfRangeException(nameof(dimensions));
    public string ExecutionProvider => "none";
    public string Description => $"hashing encoder (no model, no inference), {Dimensions} dimensions";

    public float[][] Encode(IReadOnlyList<int[]> sequences)
    {
        var vectors = new float[sequences.Count][];
        for (var s = 0; s < sequences.Count; s++)
        {
            var ids = sequences[s];
            var v = vectors[s] = new float[Dimensions];
            for (var i = 0; i < ids.Length; i++)
            {
                if (ids[i] == Tokenizer.ClsId || ids[i] == Tokenizer.SepId) continue;
                Add(v, Mix((uint)ids[i]));
                if (i + 1 < ids.Length && ids[i + 1] != Tokenizer.SepId) Add(v, Mix(((ulong)(uint)ids[i] << 32) | (uint)ids[i + 1]));
            }
            var norm = TensorPrimitives.Norm(v);
            if (norm > 0) TensorPrimitives.Divide(v, norm, v);
            else v[0] = 1; // an empty text still gets a unit vector: the index takes only those
        }
        return vectors;
    }

    private void Add(float[] v, ulong hash) => v[(int)(hash % (ulong)Dimensions)] += (hash >> 63) == 0 ? 1 : -1;

    // SplitMix64's finaliser: a cheap hash whose every output bit depends on every input bit.
    private static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
        return x ^ (x >> 31);
    }

    public void Dispose() { }
}
