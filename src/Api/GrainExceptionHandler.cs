using Microsoft.AspNetCore.Diagnostics;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Api;

/// <summary>
/// Turns exceptions into problem details. Only our own types say the caller erred: <see cref="InvalidRequestException"/>
/// 400, <see cref="ConflictException"/> 409, <see cref="NotFoundException"/> 404; a cluster that cannot serve right now
/// is a retriable 503. Anything else, a library's ArgumentException or InvalidOperationException included, is a bug of
/// ours: 500 with the trace id to find it in the log, and none of its message.
/// </summary>
public sealed class GrainExceptionHandler(IProblemDetailsService problems, ILogger<GrainExceptionHandler> log) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, message) = Describe(exception);
        if (status == 500) log.UnhandledError(exception, http.Request.Method, http.Request.Path);
        http.Response.StatusCode = status;
        if (status == 503) http.Response.Headers.RetryAfter = StorageUnavailableException.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = message, Extensions = Extensions(exception) },
        });
    }

    /// <summary>Fields a client acts on without parsing the detail: which limit, its value, the usage, what the write adds.</summary>
    private static Dictionary<string, object?> Extensions(Exception exception) => exception is TenantLimitExceededException t
        ? new() { ["limit"] = t.Limit, ["max"] = t.Max, ["usage"] = t.Usage, ["adds"] = t.Adds }
        : [];

    /// <summary>
    /// The problem an exception is to the caller: status, title and the message it may read (none of a 500's). The MCP
    /// tools answer with the same words.
    /// </summary>
    public static (int Status, string Title, string Detail) Describe(Exception exception)
    {
        var (status, title) = exception switch
        {
            InvalidRequestException e => (400, e.Title ?? "Invalid request"),
            ConflictException e => (409, e.Title ?? "Conflict"),
            NotFoundException e => (404, e.Title ?? "Not found"),
            EmbeddingUnavailableException => (503, "Dense retrieval unavailable"),
            // The store refused or dropped a read or write; nothing half-done is kept, so the same request may be sent again.
            StorageUnavailableException => (503, "Storage unavailable"),
            IngestBacklogFullException => (503, "Ingest backlog full"),
            DocumentBusyException => (503, "Document busy"),
            CollectionGoneException => (409, "Collection deleted"),
            TenantLimitExceededException => (403, "Tenant limit reached"),
            ShardLayoutChangedException => (503, "Collection resharding"),
            ShardUnreachableException => (503, "Shard unreachable"),
            NotYetReadableException => (503, "Not yet readable"),
            // A call timeout, a silo that left or cannot be reached, a message refused while the cluster reconfigures, or a
            // write that lost an ETag race: all pass; the client may retry (idempotent endpoints) after Retry-After.
            _ when DocumentRefusal.IsTransient(exception) => (503, "Cluster busy or changing"),
            // ASP.NET Core's own: a body it could not read as declared (size, framing).
            BadHttpRequestException bad => (bad.StatusCode, "Bad request"),
            _ => (500, "Internal error"),
        };
        // The first line only: a library's message may carry an inner exception's stack (Orleans' "Exception while
        // sending message: ... at ..." did, in a 503 of the fault suite).
        return (status, title, status == 500 ? "an unexpected error occurred; see the silo log" : DocumentRefusal.FirstLine(exception.Message));
    }
}
