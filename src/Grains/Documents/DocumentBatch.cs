using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using RagCluster.Grains.Interfaces.Rag;

namespace RagCluster.Grains.Documents;

/// <summary>Many documents submitted at once: the API's batch form and the embedded CLI both store them this way.</summary>
public static class DocumentBatch
{
    /// <summary>Documents one batch (and one statuses request) may carry.</summary>
    public const int MaxDocuments = 1000;

    /// <summary>
    /// Each document is stored by its own grain (durably, then indexed in the background), 32 at a time so one
    /// batch cannot flood the store. A document whose call fails gets its error; the rest of the batch goes on.
    /// </summary>
    public static async Task<(DocumentStatus? Status, string? Error)[]> IngestAsync(IGrainFactory grains, string collectionKey,
        IReadOnlyList<(string Id, IngestRequest Request)> documents, CancellationToken ct)
    {
        var results = new (DocumentStatus?, string?)[documents.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, documents.Count), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (i, _) =>
        {
            try
            {
                results[i] = (await grains.GetGrain<IDocumentGrain>($"{collectionKey}/{documents[i].Id}").Ingest(documents[i].Request), null);
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or InconsistentStateException)
            {
                results[i] = (null, e.Message.Split('\n')[0]);
            }
        });
        return results;
    }
}
