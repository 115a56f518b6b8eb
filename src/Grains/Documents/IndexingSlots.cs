using RagCluster.Storage.Concurrency;

namespace RagCluster.Grains.Documents;

/// <summary>
/// How many documents index at once on this silo (configuration "Ingest:MaxConcurrentDocuments"). Enough keeps the
/// encoder's length-bucketed batches full; more only queues work where it can time out and be redone.
/// Also how many may wait for their turn ("Ingest:MaxQueuedDocuments", "Ingest:MaxQueuedMegabytes"): each waiting
/// document is an activation holding its content, and acceptance is cheaper than indexing. Unbounded, a load of a
/// million one-vector documents held about 780,000 of them waiting and a 6.3 GB heap 10 minutes in. Past either
/// bound a new document is refused (a retriable 503) instead.
/// </summary>
public sealed class IndexingSlots(int capacity, int maxQueuedDocuments = int.MaxValue, long maxQueuedBytes = long.MaxValue)
{
    private readonly SemaphoreSlim _slots = new(capacity, capacity);
    private int _queuedDocuments;
    private long _queuedBytes;

    public ValueTask<IDisposable> EnterAsync(CancellationToken cancellationToken = default) => _slots.EnterAsync(cancellationToken);

    /// <summary>Documents accepted on this silo and not yet indexed (or failed, or gone from memory).</summary>
    public int QueuedDocuments => Volatile.Read(ref _queuedDocuments);

    /// <summary>Counts a new document in, unless the backlog is full. An empty backlog takes any one document, however large.</summary>
    public bool TryQueue(long bytes)
    {
        var documents = Interlocked.Increment(ref _queuedDocuments);
        var total = Interlocked.Add(ref _queuedBytes, bytes);
        if (documents == 1 || (documents <= maxQueuedDocuments && total <= maxQueuedBytes)) return true;
        Dequeue(bytes);
        return false;
    }

    /// <summary>Counts in a document that storage already holds as pending (resumed after a crash): it cannot be refused.</summary>
    public void Queue(long bytes)
    {
        Interlocked.Increment(ref _queuedDocuments);
        Interlocked.Add(ref _queuedBytes, bytes);
    }

    public void Dequeue(long bytes)
    {
        Interlocked.Decrement(ref _queuedDocuments);
        Interlocked.Add(ref _queuedBytes, -bytes);
    }
}
