using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Embedding;
using RagCluster.Grains.Placement;

namespace RagCluster.Grains.Embedding;

/// <summary>
/// One per embedding silo, keyed by its address: the door through which other silos reach this silo's model. The
/// service behind it batches every caller's texts together, so the grain is reentrant and does no work of its own.
/// </summary>
[SiloTargetedPlacement]
[SiloRoleFilter(SiloRoles.Embedding)]
[Reentrant]
public sealed class EmbeddingGrain(EmbeddingModel model) : Grain, IEmbeddingGrain
{
    // The first texts sent here load the model: awaited, so the load blocks no turn of this silo's scheduler.
    public async Task<float[][]> EmbedTokens(int[][] sequences, bool isQuery) =>
        await (await model.Loaded).EmbedTokensAsync(sequences, isQuery ? EmbeddingKind.Query : EmbeddingKind.Passage);
}
