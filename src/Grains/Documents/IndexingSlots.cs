using RagCluster.Storage.Concurrency;

namespace RagCluster.Grains.Documents;

/// <summary>
/// How many documents index at once on this silo (configuration "Ingest:MaxConcurrentDocuments"). Enough keeps the
/// encoder's length-bucketed batches full; more only queues work where it can time out and be redone.
/// Also how many may wait for their turn ("Ingest:MaxQueuedDocuments", "Ingest:MaxQueuedMegabytes"): each waiting
/// document is an activation holding its content, and acceptance is cheaper than indexing, so unbounded the backlog
/// grows without end. A request waits
/// for room (<see cref="WaitForRoomAsync"/>) and is refused whole if none comes; past either bound a document that
/// still reaches a full backlog is refused (a retriable 503).
/// </summary>
public sealed class IndexingSlots(int capacity, int maxQueuedDocuments = int.MaxValue, long maxQueuedBytes = long.MaxValue, TimeSpan? admissionHold = null)
{
    /// <summary>How long a request waits for room before it is refused whole ("Ingest:AdmissionHold", 10 s).</summary>
    public TimeSpan AdmissionHold { get; } = admissionHold ?? TimeSpan.FromSeconds(10);

    public IndexingSlots(IngestOptions options)
        : this(options.MaxConcurrentDocuments, options.MaxQueuedDocuments, options.MaxQueuedBytes, options.AdmissionHold) { }

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

    /// <summary>
    /// Holds a request of <paramref name="documents"/> new documents (<paramref name="bytes"/> of content) until this
    /// silo's backlog has room for all of them, up to <see cref="AdmissionHold"/>: false when it did not, and the request is
    /// then refused whole (a 503 with Retry-After) before anything of it is accepted, rather than accepted and then
    /// refused a document at a time. A client sending faster than the silo indexes is paced by the wait. It reserves
    /// nothing: requests that pass together may still overrun the bound by their own size, and their documents are then
    /// refused one by one as before.
    /// </summary>
    public async Task<bool> WaitForRoomAsync(int documents, long bytes, CancellationToken cancellationToken = default)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var queued = QueuedDocuments;
            if (queued == 0 || (queued + documents <= maxQueuedDocuments && Volatile.Read(ref _queuedBytes) + bytes <= maxQueuedBytes)) return true;
            // A caller gone while this waited is a cancellation, not a refusal, even when the wake-up came late.
            cancellationToken.ThrowIfCancellationRequested();
            if (waited.Elapsed >= AdmissionHold) return false;
            await Task.Delay(50, cancellationToken);
        }
    }

    public void Dequeue(long bytes)
    {
        Interlocked.Decrement(ref _queuedDocuments);
        Interlocked.Add(ref _queuedBytes, -bytes);
    }
}
