namespace RagCluster.Grains.Interfaces.Documents;

/// <summary>
/// The way into the index as one operation in the cluster (keyed as the collection grain is), whichever door a
/// document came in by: the silo's admission, the writer's wall, the tenant's limits and, for a batch, the bulk paths,
/// applied in one place. A stateless worker, so it runs on the silo that asks and paces by that silo's own backlog.
/// </summary>
public interface IIngestGrain : IGrainWithStringKey
{
    /// <summary>
    /// Stores one document (durably, then indexed in the background) once this silo's backlog has room; its status.
    /// Throws <see cref="Errors.IngestBacklogFullException"/> when none came within the admission hold (nothing kept).
    /// </summary>
    /// <param name="id">A checked document id.</param>
    /// <param name="request">The document, parsed and checked at the door.</param>
    /// <param name="writer">The caller, for the wall: a document under an id it cannot see is refused (409) and unchanged.</param>
    /// <param name="cancellationToken">The caller went away while the document waited for room: it is not stored.</param>
    [ResponseTimeout("00:02:00")] // as long as the API lets a request run (Api:RequestTimeoutSeconds)
    Task<DocumentStatus> Ingest(string id, IngestRequest request, Security.ReadAccess writer, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores each document of a batch and answers each with its status or the reason it was refused; a document that
    /// fails does not stop the rest. Thrown whole, with nothing of the batch kept:
    /// <see cref="Errors.TenantLimitExceededException"/> (the batch would pass a limit of the tenant) and
    /// <see cref="Errors.IngestBacklogFullException"/> (the silo's backlog had no room within its admission hold).
    /// </summary>
    /// <param name="batch">At most <see cref="DocumentLimits.MaxDocuments"/> documents, each id once.</param>
    /// <param name="writer">The caller, for the wall, as for one document.</param>
    /// <param name="cancellationToken">The caller went away: documents not yet stored are not.</param>
    [ResponseTimeout("00:02:00")]
    Task<DocumentBatchResult[]> IngestBatch(DocumentBatchItem[] batch, Security.ReadAccess writer, CancellationToken cancellationToken = default);
}
