using RagCluster.Grains.Interfaces.Rag;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;

namespace RagCluster.Grains.Embedding;

/// <summary>A local pool per silo: calls go to this silo's model, whose batcher merges concurrent callers.</summary>
[StatelessWorker(4)]
[Reentrant]
public sealed class EmbeddingGrain(EmbeddingService service) : Grain, IEmbeddingGrain
{
    public Task<float[][]> Embed(string[] texts, bool isQuery) =>
        service.EmbedAsync(texts, isQuery ? EmbeddingKind.Query : EmbeddingKind.Passage);

    public Task<EmbeddingInfo> GetInfo()
    {
        var (batches, texts, seconds) = service.Stats;
        return Task.FromResult(new EmbeddingInfo(service.IsAvailable, service.Status, service.Dimensions, service.ExecutionProvider)
        {
            Device = service.Device, Texts = texts, Batches = batches, InferenceSeconds = Math.Round(seconds, 3),
        });
    }
}
