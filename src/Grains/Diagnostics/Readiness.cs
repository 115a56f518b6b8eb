using RagCluster.Grains.Embedding;
using RagCluster.Runtime.Hosting;

namespace RagCluster.Grains.Diagnostics;

/// <summary>The readiness check every silo answers the same way: store reachable, joined, and the configured model loaded.</summary>
public static class Readiness
{
    public sealed record Result(bool Ready, string SiloId, object Checks, string Detail, string Embedding);

    public static async Task<Result> CheckAsync(Silo silo, EmbeddingService embeddings, EmbeddingOptions options)
    {
        var (store, joined, detail) = await silo.CheckHealthAsync(TimeSpan.FromSeconds(2));
        var modelOk = embeddings.IsAvailable || string.IsNullOrWhiteSpace(options.ModelDirectory);
        var checks = new { store, membership = joined, model = embeddings.IsAvailable ? "loaded" : modelOk ? "not configured" : "failed" };
        return new Result(store && joined && modelOk, silo.SiloId, checks, store && joined ? (modelOk ? detail : embeddings.Status) : detail, embeddings.Status);
    }
}
