using Orleans.Storage;

namespace RagCluster.Grains.Interfaces.Errors;

/// <summary>Why one document of a batch was not stored, and whether sending it again may succeed.</summary>
[GenerateSerializer, Immutable, Alias("rc.DocumentRefusal")]
public sealed record DocumentRefusal([property: Id(0)] int Status, [property: Id(1)] string Title, [property: Id(2)] string Detail)
{
    public bool Retryable => Status == 503;

    /// <summary>
    /// A failure after which nothing half-done is kept and the same call may be made again: the store refused or dropped
    /// a read or write, the silo's backlog of documents to index was full, a call timed out, a silo left or could not
    /// be reached, a message was refused while the cluster reconfigures, a call was cancelled inside the cluster (a
    /// message that expired before its grain could be placed, after a silo died), or a write lost an ETag race to a newer
    /// activation. The API answers these 503 with Retry-After.
    /// </summary>
    public static bool IsTransient(Exception e) => e is StorageUnavailableException or ShardUnreachableException or IngestBacklogFullException or DocumentBusyException or NotYetReadableException or TimeoutException or SiloUnavailableException
        or OrleansMessageRejectionException or GatewayTooBusyException or InconsistentStateException or Orleans.Runtime.Messaging.ConnectionFailedException
        or OperationCanceledException;

    public static DocumentRefusal Of(Exception e) => e switch
    {
        IngestBacklogFullException => new(503, "Ingest backlog full", FirstLine(e.Message)),
        DocumentBusyException => new(503, "Document busy", FirstLine(e.Message)),
        ShardLayoutChangedException => new(503, "Collection resharding", FirstLine(e.Message)),
        // Nothing of the document was kept: the store refused the write, or the cluster could not take the call now.
        _ when IsTransient(e) => new(503, "Not stored", FirstLine(e.Message)),
        CollectionGoneException => new(409, "Collection deleted", FirstLine(e.Message)),
        TenantLimitExceededException => new(403, "Tenant limit reached", FirstLine(e.Message)),
        InvalidRequestException => new(400, "Invalid document", FirstLine(e.Message)),
        ConflictException => new(409, "Conflict", FirstLine(e.Message)),
        _ => new(500, "Internal error", "an unexpected error occurred; see the silo log"),
    };

    /// <summary>An exception's message without what follows its first line (Orleans puts an inner exception's stack there).</summary>
    public static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
