using System.Numerics.Tensors;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Embedding.BuiltIn;
using RagCluster.Grains.Embedding.Onnx;
using RagCluster.Grains.Text;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Pooling inside the ONNX session (the nodes <see cref="PooledOutput"/> adds, so a GPU returns only pooled vectors)
/// gives the vectors the host's pooling gives: mean over the real tokens of a padded batch, the [CLS] row, with and
/// without normalisation, on both built-in models (opset 11 and a later one, whose ReduceSum takes its axes differently).
/// </summary>
[Trait("Category", "Unit")]
public sealed class PooledOutputTests
{
    private static readonly string[] Texts =
    [
        "short",
        "a somewhat longer sentence about the binding of proteins to cell membranes",
        string.Join(' ', Enumerable.Range(0, 120).Select(i => $"word{i % 37} of a long passage")),
        "mid-length text, with punctuation; and numbers 12345",
    ];

    public static TheoryData<string, string, bool> Cases => new()
    {
        { "minilm", "mean", true }, { "minilm", "cls", true }, { "minilm", "mean", false },
        { "arctic-xs", "cls", true }, { "arctic-xs", "mean", true }, { "arctic-xs", "cls", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Session_pooling_equals_host_pooling(string model, string pooling, bool normalize)
    {
        var directory = BuiltInModel.Find(model)!.Verify();
        var tokenizer = WordPieceTokenizer.FromDirectory(directory);
        EmbeddingOptions Options(bool inSession) => new() { Model = model, Pooling = pooling, Normalize = normalize, ExecutionProvider = "cpu", PoolInSession = inSession };
        using var inSession = new BertEncoder(Path.Combine(directory, "model.onnx"), tokenizer, Options(true));
        using var onHost = new BertEncoder(Path.Combine(directory, "model.onnx"), tokenizer, Options(false));
        Assert.True(inSession.PooledInSession);
        Assert.False(onHost.PooledInSession);

        // One padded batch: the short texts' padding must not count in the mean.
        var sequences = Texts.Select(inSession.TokenIds).ToArray();
        Assert.True(sequences.Max(s => s.Length) > 4 * sequences.Min(s => s.Length));
        var a = inSession.Encode(sequences);
        var b = onHost.Encode(sequences);
        for (var i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(384, a[i].Length);
            var cosine = TensorPrimitives.CosineSimilarity(a[i], b[i]);
            Assert.True(cosine > 0.99999f, $"text {i}: cosine {cosine}");
            var norms = (TensorPrimitives.Norm(a[i]), TensorPrimitives.Norm(b[i]));
            Assert.True(Math.Abs(norms.Item1 - norms.Item2) < 1e-4 * norms.Item2, $"text {i}: norms {norms}");
            if (normalize) Assert.True(Math.Abs(norms.Item1 - 1) < 1e-5, $"text {i}: norm {norms.Item1}");
        }
        // Each text alone (no padding) gives what it gave in the batch.
        for (var i = 0; i < Texts.Length; i++)
            Assert.True(TensorPrimitives.CosineSimilarity(inSession.Encode([sequences[i]])[0], a[i]) > 0.99999f);
    }

    [Theory]
    [InlineData("minilm", "mean", true)]
    [InlineData("arctic-xs", "cls", true)]
    [InlineData("minilm", "mean", false)]
    public void Padding_lengths_and_rows_for_a_GPU_leaves_each_vector_as_it_was(string model, string pooling, bool inSession)
    {
        var directory = BuiltInModel.Find(model)!.Verify();
        var tokenizer = WordPieceTokenizer.FromDirectory(directory);
        EmbeddingOptions Options(int pad) => new() { Model = model, Pooling = pooling, ExecutionProvider = "cpu", PoolInSession = inSession, PadToMultipleOf = pad };
        using var exact = new BertEncoder(Path.Combine(directory, "model.onnx"), tokenizer, Options(1));
        using var padded = new BertEncoder(Path.Combine(directory, "model.onnx"), tokenizer, Options(64));
        Assert.Equal(1, exact.PadToMultipleOf);
        var sequences = Texts[..3].Select(exact.TokenIds).ToArray(); // 3 rows: padded to 4, lengths to 64
        var a = exact.Encode(sequences);
        var b = padded.Encode(sequences);
        Assert.Equal(3, b.Length);
        for (var i = 0; i < 3; i++)
            Assert.True(TensorPrimitives.CosineSimilarity(a[i], b[i]) > 0.99999f, $"text {i}: cosine {TensorPrimitives.CosineSimilarity(a[i], b[i])}");
    }
}
