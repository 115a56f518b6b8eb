using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Documents;

/// <summary>
/// The way into the index (<see cref="IIngestGrain"/>): one document through its grain, a batch through
/// <see cref="DocumentBatch"/>, both with this silo's backlog, bulk text indexer and sizes. A local stateless worker, so
/// a document is paced by the backlog of the silo that took the request, as it was when the API ran these steps
/// itself; one request an activation, as many as are in flight (up to 64 on a silo), so one waiting for admission
/// does not hold the next.
/// </summary>
[StatelessWorker(64)]
public sealed class IngestGrain(IndexingSlots slots, BulkTextIndexer texts, DocumentSizes sizes) : Grain, IIngestGrain
{
    private string CollectionKey => this.GetPrimaryKeyString();

    public async Task<DocumentStatus> Ingest(string id, IngestRequest request, ReadAccess writer, CancellationToken cancellationToken = default)
    {
        // Paced, not refused, while this silo's backlog is full (the document's grain may refuse it all the same).
        if (!await slots.WaitForRoomAsync(1, request.Content.Length, cancellationToken))
            throw new IngestBacklogFullException($"this silo holds {slots.QueuedDocuments} document(s) waiting to be indexed; nothing was stored, send it again later");
        return await GrainFactory.Document(CollectionKey, id).Ingest(request with { Writer = writer });
    }

    public async Task<DocumentBatchResult[]> IngestBatch(DocumentBatchItem[] batch, ReadAccess writer, CancellationToken cancellationToken = default)
    {
        // On the thread pool, not this activation's turns: its decoding, measuring and many awaits ran there when the API
        // ran it, and each await queued behind the activation scheduler here cost the own-vector load about 7 % on 2 cores.
        var (grains, key) = (GrainFactory, CollectionKey);
        var stored = await Task.Run(() => DocumentBatch.IngestAsync(grains, key, [.. batch.Select(d => (d.Id, d.Request))], writer, cancellationToken, slots, texts, sizes), cancellationToken);
        return [.. stored.Select(s => new DocumentBatchResult(s.Status, s.Refusal))];
    }
}
