using System.Numerics.Tensors;
using Microsoft.Extensions.Logging.Abstractions;
using RagCluster.Grains.Embedding;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// On CPU a query goes to the query lane whenever the lane is free (the runners take queries only while it is busy), and
/// the lane's own session gives the vectors the runners' session gives.
/// </summary>
public sealed class QueryLaneTests
{
    [Theory]
    [InlineData(2)] // a session of its own with two threads (the default)
    [InlineData(0)] // the runners' session
    public async Task Queries_one_at_a_time_all_run_on_the_lane_with_the_runners_vectors(int laneThreads)
    {
        await using var service = new EmbeddingService(new EmbeddingOptions
        {
            ModelDirectory = RepoPaths.TestModel, ExecutionProvider = "cpu", Runners = 2, QueryLaneThreads = laneThreads,
        }, NullLogger<EmbeddingService>.Instance);
        Assert.True(service.IsAvailable, service.Status);
        string[] texts = ["how do proteins bind", "membrane transport", "a third, rather longer question about cells and their parts"];

        var passages = await service.EmbedAsync(texts, EmbeddingKind.Passage); // the runners' work
        Assert.Equal(0, service.QueryLaneTexts);
        for (var round = 0; round < 3; round++)
            for (var i = 0; i < texts.Length; i++)
            {
                var query = (await service.EmbedAsync([texts[i]], EmbeddingKind.Query))[0]; // no prefix: the same input
                Assert.True(TensorPrimitives.CosineSimilarity(query, passages[i]) > 0.99999f);
            }
        Assert.Equal(9, service.QueryLaneTexts);
    }
}
