using RagCluster.Grains.Embedding;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Documents;

namespace RagCluster.Grains.Querying;

// The query's vector: the caller's own (checked, and scaled for cosine), or the cluster's model's within the latency budget.
public sealed partial class QueryPlanGrain
{
    /// <summary>The query's own vector, checked and, for cosine, scaled to length 1; null when the request has none.</summary>
    private static float[]? QueryVector(float[]? vector, CollectionSettings settings)
    {
        if (vector is null) return null;
        if (settings.Dimensions is not { } dimensions)
            throw new InvalidRequestException("this collection embeds queries with the cluster's model; send query text, not a vector");
        if (dimensions == 0) throw new InvalidRequestException("this collection holds no vectors (dimensions 0); search it with query text (BM25) and filters");
        if (OwnVectorChunks.Problem(vector, dimensions) is { } problem) throw new InvalidRequestException($"the query vector {problem}");
        return Vectors.VectorMetrics.Prepared(vector, settings.Distance);
    }

    /// <summary>
    /// The query embedded, or null when it took more than half the latency budget (e.g. while ingest saturates the
    /// embedder) or no silo could embed it now: the search then runs on BM25 alone rather than blowing the budget.
    /// </summary>
    private async Task<float[]?> EmbedQueryWithinBudget(string collection, string query, CancellationToken ct)
    {
        Task<float[][]> embedding;
        try { embedding = embedder.EmbedAsync([embedder.Local.TokenIds(query, EmbeddingKind.Query)], EmbeddingKind.Query, ct); }
        catch (EmbeddingUnavailableException e) { embedding = Task.FromException<float[][]>(e); }
        var first = await Task.WhenAny(embedding, Task.Delay(TimeSpan.FromMilliseconds(options.Value.LatencyBudgetMs / 2.0), ct));
        ct.ThrowIfCancellationRequested();
        if (first != embedding)
        {
            _ = embedding.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            _overBudget++;
            return null;
        }
        if (embedding.IsCompletedSuccessfully) return embedding.Result[0];
        if (embedding.Exception?.GetBaseException() is { } failure && (failure is EmbeddingUnavailableException || DocumentRefusal.IsTransient(failure)))
        {
            _embeddingUnavailable++;
            QueryPlanLog.EmbeddingUnavailable(log, collection, failure.Message.Split('\n')[0]);
            return null;
        }
        await embedding; // not a condition to work around: the caller sees it
        return null;
    }
}
