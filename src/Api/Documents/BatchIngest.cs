using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Collections;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Naming;
using static RagCluster.Api.Documents.DocumentParsing;

namespace RagCluster.Api.Documents;

/// <summary>Many documents in one request, for the HTTP batch form and the MCP add_documents tool alike.</summary>
public static class BatchIngest
{
    /// <summary>
    /// The batch form: each document is checked as the single form would check it, stored (durably, then indexed in
    /// the background), and answered with its own status; a bad document is refused alone. The whole batch is refused
    /// (403, TenantLimitExceededException) only when it would take the tenant past a limit.
    /// </summary>
    public static async Task<(BatchAccepted? Accepted, ProblemHttpResult? Problem)> IngestAsync(
        CollectionRef c, IReadOnlyList<DocumentInput?> documents, CollectionSettings settings, IGrainFactory grains, ILogger log, CancellationToken ct)
    {
        if (documents.Count is 0 or > DocumentLimits.MaxDocuments)
            return (null, RagEndpoints.Problem(400, "Invalid batch", $"\"documents\" must hold 1..{DocumentLimits.MaxDocuments} documents (it has {documents.Count})"));
        var results = new BatchItem[documents.Count];
        var rejected = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var work = new List<(int Index, DocumentBatchItem Item)>();
        for (var i = 0; i < documents.Count; i++)
        {
            var (parsed, rejection) = documents[i] is { } d ? ParseDocument(d, settings) : (null, new IngestRejection(400, "Missing document", "null in \"documents\""));
            var id = parsed?.Id ?? documents[i]?.Id;
            if (rejection is null)
                rejection = !Names.IsDocumentId(parsed!.Value.Id) ? new IngestRejection(400, "Invalid document id", "use " + Names.DocumentIdRule)
                    // Two versions of one document in one batch would race; the client must say which it means.
                    : (seen.Add(parsed.Value.Id) ? null : new IngestRejection(400, "Duplicate document id", "the batch names this id more than once"));
            if (rejection is not null)
            {
                results[i] = new BatchItem(id, "rejected", Error: rejection);
                rejected++;
            }
            else work.Add((i, new DocumentBatchItem(parsed!.Value.Id, parsed.Value.Request)));
        }
        var stored = await grains.GetGrain<IIngestGrain>(c.Key).IngestBatch([.. work.Select(w => w.Item)], c.Access, ct);
        for (var k = 0; k < work.Count; k++)
        {
            var (index, (id, _)) = work[k];
            if (stored[k] is ({ } status, null)) results[index] = new BatchItem(id, status.Status, status.Version);
            else
            {
                // Not accepted; a 503 one (the store or the cluster could not take it now) is safe to send again after retryAfter.
                var refusal = stored[k].Refusal!;
                if (refusal.Status == 500) log.BatchDocumentFailed(c.Key, id);
                results[index] = new BatchItem(id, "rejected",
                    Error: new IngestRejection(refusal.Status, refusal.Title, refusal.Detail, refusal.Retryable ? StorageUnavailableException.RetryAfterSeconds : null));
                rejected++;
            }
        }
        return (new BatchAccepted(documents.Count - rejected, rejected, results), null);
    }
}
