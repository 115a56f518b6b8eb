using System.Numerics.Tensors;
using Microsoft.Extensions.Logging.Abstractions;
using RagCluster.Grains.Embedding;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// On CPU a query goes to the query lane whenever the lane is free (the runners take queries only while it is busy).
/// The lane's own session gives the runners' vectors with the file's weights, and close ones with int8 weights; either
/// way a query's vector does not depend on which thread embedded it or which other queries came at the same time.
/// </summary>
[Trait("Category", "Unit")]
public sealed class QueryLaneTests
{
    [Theory]
    [InlineData(2, "int8")] // a session of its own with two threads and int8 weights (the default)
    [InlineData(2, "float32")] // the same session with the file's weights
    [InlineData(0, "int8")] // the runners' session: the file's weights whatever QueryWeights says
    public async Task Queries_one_at_a_time_all_run_on_the_lane_with_the_runners_vectors(int laneThreads, string weights)
    {
        await using var service = new EmbeddingService(new EmbeddingOptions
        {
            // Passages with the file's weights: the float32 vector each query is compared with.
            ModelDirectory = RepoPaths.TestModel, ExecutionProvider = "cpu", Runners = 2, QueryLaneThreads = laneThreads, QueryWeights = weights, PassageWeights = "float32",
        }, NullLogger<EmbeddingService>.Instance);
        Assert.True(service.IsAvailable, service.Status);
        var int8 = laneThreads > 0 && weights == "int8";
        Assert.Equal(int8, service.Status.Contains("queries with int8 weights"));
        string[] texts = ["how do proteins bind", "membrane transport", "a third, rather longer question about cells and their parts"];

        var passages = await service.EmbedAsync(texts, EmbeddingKind.Passage); // the runners' work
        Assert.Equal(0, service.QueryLaneTexts);
        for (var round = 0; round < 3; round++)
            for (var i = 0; i < texts.Length; i++)
            {
                var query = (await service.EmbedAsync([texts[i]], EmbeddingKind.Query))[0]; // no prefix: the same input
                var cosine = TensorPrimitives.CosineSimilarity(query, passages[i]);
                if (int8) Assert.InRange(cosine, 0.99f, 0.99999f); // close, and not the float32 vector
                else Assert.True(cosine > 0.99999f, $"cosine {cosine}");
            }
        Assert.Equal(9, service.QueryLaneTexts);
    }

    [Fact]
    public async Task A_query_has_one_vector_alone_or_among_concurrent_queries_during_a_load()
    {
        await using var service = new EmbeddingService(new EmbeddingOptions
        {
            ModelDirectory = RepoPaths.TestModel, ExecutionProvider = "cpu", Runners = 2, MaxWaitMilliseconds = 5,
        }, NullLogger<EmbeddingService>.Instance);
        Assert.True(service.IsAvailable, service.Status);
        var texts = Enumerable.Range(0, 24).Select(i => string.Join(' ', Enumerable.Range(0, 3 + i % 9).Select(w => $"cell{(i * 7 + w) % 40} protein"))).ToArray();
        var alone = new List<float[]>();
        foreach (var text in texts) alone.Add((await service.EmbedAsync([text], EmbeddingKind.Query))[0]);

        // Passages keep the runners busy while 24 callers ask at once, each several times: the lane is busy for most of
        // them, so runners take queries too, and queries queue up together.
        var load = Enumerable.Range(0, 8).Select(b => service.EmbedAsync(
            Enumerable.Range(0, 16).Select(i => string.Join(' ', Enumerable.Range(0, 60 + i).Select(w => $"passage{b}x{w}"))).ToArray(), EmbeddingKind.Passage)).ToList();
        var laneBefore = service.QueryLaneTexts;
        var together = await Task.WhenAll(Enumerable.Range(0, texts.Length * 4).Select(async k =>
        {
            await Task.Yield();
            return (Index: k % texts.Length, Vector: (await service.EmbedAsync([texts[k % texts.Length]], EmbeddingKind.Query))[0]);
        }));
        await Task.WhenAll(load);

        Assert.True(service.QueryLaneTexts - laneBefore < together.Length, "the lane embedded every concurrent query: the runners never took one");
        foreach (var (index, vector) in together) Assert.Equal(alone[index], vector);
    }
}
