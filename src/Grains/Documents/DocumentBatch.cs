using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Rag;

namespace RagCluster.Grains.Documents;

/// <summary>Many documents submitted at once: the API's batch form and the embedded CLI both store them this way.</summary>
public static class DocumentBatch
{
    /// <summary>Documents one batch (and one statuses request) may carry.</summary>
    public const int MaxDocuments = 1000;

    /// <summary>
    /// The collection notes every document of the batch as accepted in one write (it group-commits at most every 250 ms,
    /// so a notice per document held a batch to 32 documents that often: 121 documents/s on SciFact); then each document is
    /// stored by its own grain (durably, then indexed in the background), 32 at a time so one batch cannot flood the
    /// store. A document whose call fails gets its refusal; the rest of the batch goes on.
    /// </summary>
    public static async Task<(DocumentStatus? Status, DocumentRefusal? Refusal)[]> IngestAsync(IGrainFactory grains, string collectionKey,
        IReadOnlyList<(string Id, IngestRequest Request)> documents, CancellationToken ct)
    {
        var results = new (DocumentStatus?, DocumentRefusal?)[documents.Count];
        if (documents.Count == 0) return results;
        long acceptedAt;
        try
        {
            acceptedAt = await grains.GetGrain<ICollectionGrain>(collectionKey).DocumentsAccepted(documents.Select(d => d.Id).ToArray());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var refusal = DocumentRefusal.Of(e);
            Array.Fill(results, (null, refusal));
            return results;
        }
        documents = documents.Select(d => (d.Id, d.Request with { AcceptedAt = acceptedAt })).ToList();
        await Parallel.ForEachAsync(Enumerable.Range(0, documents.Count), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (i, _) =>
        {
            try
            {
                results[i] = (await grains.GetGrain<IDocumentGrain>($"{collectionKey}/{documents[i].Id}").Ingest(documents[i].Request), null);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                results[i] = (null, DocumentRefusal.Of(e));
            }
        });
        return results;
    }
}

/// <summary>Why one document of a batch was not stored, and whether sending it again may succeed.</summary>
public sealed record DocumentRefusal(int Status, string Title, string Detail)
{
    public bool Retryable => Status == 503;

    /// <summary>
    /// A failure after which nothing half-done is kept and the same call may be made again: the store refused or dropped
    /// a read or write, the silo's backlog of documents to index was full, a call timed out, a silo left or could not
    /// be reached, a message was refused while the cluster reconfigures, or a write lost an ETag race to a newer
    /// activation. The API answers these 503 with Retry-After.
    /// </summary>
    public static bool IsTransient(Exception e) => e is StorageUnavailableException or IngestBacklogFullException or TimeoutException or SiloUnavailableException
        or OrleansMessageRejectionException or GatewayTooBusyException or InconsistentStateException or Orleans.Runtime.Messaging.ConnectionFailedException;

    public static DocumentRefusal Of(Exception e) => e switch
    {
        IngestBacklogFullException => new(503, "Ingest backlog full", FirstLine(e.Message)),
        // Nothing of the document was kept: the store refused the write, or the cluster could not take the call now.
        _ when IsTransient(e) => new(503, "Not stored", FirstLine(e.Message)),
        CollectionGoneException => new(409, "Collection deleted", FirstLine(e.Message)),
        ArgumentException => new(400, "Invalid document", FirstLine(e.Message)),
        _ => new(500, "Internal error", "an unexpected error occurred; see the silo log"),
    };

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
