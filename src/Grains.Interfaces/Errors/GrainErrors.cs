namespace RagCluster.Grains.Interfaces.Errors;

/// <summary>
/// The store could not take a read or write now: refused connections, a pool with no free connection in time, a server
/// restarting, a broken connection. Nothing the caller was promised is lost: a failed write is not in the grain's
/// memory either, and callers may send the request again after <see cref="RetryAfterSeconds"/>. A write whose
/// connection broke may still have committed; the grain re-reads storage before it writes again.
/// Ours and serializable (the driver's exceptions are not), so it crosses silos intact; it derives from
/// OrleansException so Orleans' state bridge passes it on instead of wrapping it around a driver type.
/// </summary>
[GenerateSerializer, Alias("rc.StorageUnavailableException")]
public sealed class StorageUnavailableException : OrleansException
{
    public StorageUnavailableException() { }

    public StorageUnavailableException(string message) : base(message) { }

    /// <summary>A client should wait this long before sending the same request again.</summary>
    public const int RetryAfterSeconds = 1;
}

/// <summary>
/// The silo that would index the document already holds as many documents waiting to be indexed as it may
/// (Ingest:MaxQueuedDocuments, Ingest:MaxQueuedMegabytes): nothing of this one was stored. Send it again after
/// <see cref="StorageUnavailableException.RetryAfterSeconds"/>; the backlog drains at the silo's indexing rate.
/// </summary>
[GenerateSerializer, Alias("rc.IngestBacklogFullException")]
public sealed class IngestBacklogFullException : OrleansException
{
    public IngestBacklogFullException() { }

    public IngestBacklogFullException(string message) : base(message) { }
}

/// <summary>
/// A grain failed with an exception whose type may not cross a silo (a library's own type, which Orleans has no codec
/// for): the grain call filter replaces it with this, keeping the original type's name and message. A bug to report,
/// not a condition to retry; the original, with its stack, is in the silo's log.
/// </summary>
[GenerateSerializer, Alias("rc.GrainFailedException")]
public sealed class GrainFailedException : OrleansException
{
    public GrainFailedException() { }

    public GrainFailedException(string originalType, string message) : base($"{originalType}: {message}") => OriginalType = originalType;

    [Id(0)] public string? OriginalType { get; private set; }
}

/// <summary>
/// The collection is being deleted or was deleted: it takes no new documents (a document finishing its indexing then
/// removes itself). Create it again once the delete has finished.
/// </summary>
[GenerateSerializer, Alias("rc.CollectionGoneException")]
public sealed class CollectionGoneException : OrleansException
{
    public CollectionGoneException() { }

    public CollectionGoneException(string message) : base(message) { }
}

/// <summary>
/// A write or search reached shards the collection no longer uses (a reshard finished meanwhile), or a write reached
/// fewer layouts than a reshard in progress needs. The caller reads the collection's settings again and repeats the
/// call on the layouts they name; it is never the caller's fault, and if it reaches a client it is a retriable 503.
/// </summary>
[GenerateSerializer, Alias("rc.ShardLayoutChangedException")]
public sealed class ShardLayoutChangedException : OrleansException
{
    public ShardLayoutChangedException() { }

    public ShardLayoutChangedException(string message) : base(message) { }
}

/// <summary>
/// No copy of a shard answered a search: the silo holding it stopped answering (killed, partitioned) and the cluster
/// has not declared it dead yet, after which the shard loads on a live silo. A retriable 503: the search runs again
/// once it moves (seconds, the membership's probes), or at once where the collection keeps copies on other silos.
/// </summary>
[GenerateSerializer, Alias("rc.ShardUnreachableException")]
public sealed class ShardUnreachableException : OrleansException
{
    public ShardUnreachableException() { }

    public ShardUnreachableException(string message) : base(message) { }
}

/// <summary>
/// A read-your-writes search cannot be answered yet: a document it names is not indexed at that version, or this copy
/// of a shard does not hold it yet (another copy, or the primary, is asked instead). Nothing failed: a retriable 503.
/// </summary>
[GenerateSerializer, Alias("rc.NotYetReadableException")]
public sealed class NotYetReadableException : OrleansException
{
    public NotYetReadableException() { }

    public NotYetReadableException(string message) : base(message) { }
}

/// <summary>
/// The document is being written by another path at this moment (a bulk write of the same id has not finished): nothing
/// was stored; send it again shortly (a retriable 503). A bulk write cut off by a crash is settled by the collection's
/// sweep within one period.
/// </summary>
[GenerateSerializer, Alias("rc.DocumentBusyException")]
public sealed class DocumentBusyException : OrleansException
{
    public DocumentBusyException() { }

    public DocumentBusyException(string message) : base(message) { }
}

/// <summary>
/// The request is wrong and sending it again unchanged will not help: a value out of range, a malformed name, an
/// unknown option. The API answers 400 with this message. Only this (and the types below) become a 4xx: an
/// ArgumentException from a library is a bug of ours and answers 500, without its message.
/// </summary>
[GenerateSerializer, Alias("rc.InvalidRequestException")]
public class InvalidRequestException : OrleansException
{
    public InvalidRequestException() { }

    public InvalidRequestException(string message) : base(message) { }

    /// <param name="title">What the problem is called to the caller ("Invalid topK"); the API's default title otherwise.</param>
    /// <param name="message">The problem's detail.</param>
    public InvalidRequestException(string title, string message) : base(message) => Title = title;

    [Id(0)] public string? Title { get; private set; }
}

/// <summary>The request conflicts with what exists now (a name taken, a setting fixed at creation): 409.</summary>
[GenerateSerializer, Alias("rc.ConflictException")]
public sealed class ConflictException : OrleansException
{
    public ConflictException() { }

    public ConflictException(string message) : base(message) { }

    /// <param name="title">What conflicts, to the caller ("Name taken by an alias"); the API's default title otherwise.</param>
    /// <param name="message">The problem's detail.</param>
    public ConflictException(string title, string message) : base(message) => Title = title;

    [Id(0)] public string? Title { get; private set; }
}

/// <summary>What the request names does not exist (or is not visible to the caller): 404.</summary>
[GenerateSerializer, Alias("rc.NotFoundException")]
public sealed class NotFoundException : OrleansException
{
    public NotFoundException() { }

    public NotFoundException(string message) : base(message) { }

    /// <param name="title">What is missing, to the caller ("Conversation not found"); the API's default title otherwise.</param>
    /// <param name="message">The problem's detail.</param>
    public NotFoundException(string title, string message) : base(message) => Title = title;

    [Id(0)] public string? Title { get; private set; }
}

/// <summary>
/// The write would take its tenant past a limit an operator set (see TenantLimits): nothing of it was stored. 403: the
/// same write fails again until the tenant deletes something or an operator raises the limit.
/// </summary>
[GenerateSerializer, Alias("rc.TenantLimitExceededException")]
public sealed class TenantLimitExceededException : OrleansException
{
    public TenantLimitExceededException() { }

    public TenantLimitExceededException(string limit, long max, long usage, long adds)
        : base($"the tenant may hold {max} {limit} and holds {usage}; this write adds {adds}, so nothing of it was stored")
        => (Limit, Max, Usage, Adds) = (limit, max, usage, adds);

    /// <summary>Which limit: collections, documents, vectors or bytes.</summary>
    [Id(0)] public string? Limit { get; private set; }
    [Id(1)] public long Max { get; private set; }
    /// <summary>What the tenant holds (and has in flight) of it.</summary>
    [Id(2)] public long Usage { get; private set; }
    [Id(3)] public long Adds { get; private set; }
}
