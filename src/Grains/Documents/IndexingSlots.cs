namespace RagCluster.Grains.Documents;

/// <summary>
/// How many documents index at once on this silo (configuration "Ingest:MaxConcurrentDocuments"). Enough keeps the
/// encoder's length-bucketed batches full; more only queues work where it can time out and be redone.
/// </summary>
public sealed class IndexingSlots(int capacity)
{
    private readonly SemaphoreSlim _slots = new(capacity, capacity);

    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken = default)
    {
        await _slots.WaitAsync(cancellationToken);
        return new Lease(_slots);
    }

    private sealed class Lease(SemaphoreSlim slots) : IDisposable
    {
        private int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) slots.Release();
        }
    }
}
