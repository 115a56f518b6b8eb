using RagCluster.Storage.Concurrency;

namespace RagCluster.Grains.Documents;

/// <summary>
/// How many documents index at once on this silo (configuration "Ingest:MaxConcurrentDocuments"). Enough keeps the
/// encoder's length-bucketed batches full; more only queues work where it can time out and be redone.
/// </summary>
public sealed class IndexingSlots(int capacity)
{
    private readonly SemaphoreSlim _slots = new(capacity, capacity);

    public ValueTask<IDisposable> EnterAsync(CancellationToken cancellationToken = default) => _slots.EnterAsync(cancellationToken);
}
