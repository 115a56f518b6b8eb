using System.Numerics.Tensors;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Embedding.Onnx;
using RagCluster.Grains.Text;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// <see cref="Int8Weights"/> on the random-weight test model, both kinds of weights (signed for CPUs with VNNI,
/// unsigned around 128 elsewhere; this machine runs whichever is asked): every weighted product rewritten, the model
/// still loads, and its vectors stay close to float32's without being them.
/// </summary>
[Trait("Category", "Unit")]
public sealed class Int8WeightsTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Every_weighted_product_gets_int8_weights_and_the_vectors_stay_close(bool signed)
    {
        var model = File.ReadAllBytes(Path.Combine(RepoPaths.TestModel, "model.onnx"));
        var (int8, products) = Int8Weights.Quantize(model, signed);
        Assert.Equal(36, products); // 6 layers: query, key, value, attention output, and the two feed-forward products
        Assert.True(int8.Length < model.Length * 0.75, $"{int8.Length} bytes against {model.Length}");

        var folder = Directory.CreateTempSubdirectory("rc-int8").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(folder, "model.onnx"), int8);
            var tokenizer = WordPieceTokenizer.FromDirectory(RepoPaths.TestModel);
            var options = new EmbeddingOptions { ModelDirectory = RepoPaths.TestModel, ExecutionProvider = "cpu" };
            using var float32 = new BertEncoder(Path.Combine(RepoPaths.TestModel, "model.onnx"), tokenizer, options);
            using var quantised = new BertEncoder(Path.Combine(folder, "model.onnx"), tokenizer, options);
            var texts = new[] { "how do proteins fold", "membrane transport in cells", "a longer sentence about the shards of an index and its copies" };
            foreach (var text in texts)
            {
                var ids = tokenizer.Encode(text, 256);
                var cosine = TensorPrimitives.CosineSimilarity(float32.Encode([ids])[0], quantised.Encode([ids])[0]);
                Assert.InRange(cosine, 0.99f, 0.99999f);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_model_without_weighted_products_is_returned_as_it_was()
    {
        var model = File.ReadAllBytes(Path.Combine(RepoPaths.TestModel, "model.onnx"));
        var (once, _) = Int8Weights.Quantize(model, signed: true);
        var (twice, products) = Int8Weights.Quantize(once, signed: true); // nothing left to rewrite
        Assert.Equal(0, products);
        Assert.Same(once, twice);
    }
}
