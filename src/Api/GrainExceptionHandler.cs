using Microsoft.AspNetCore.Diagnostics;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Api;

/// <summary>
/// Turns exceptions from grains into problem details: bad arguments are the caller's 400, conflicts 409, a
/// cluster that cannot serve right now 503 (retriable); anything else stays a 500 without internals.
/// </summary>
public sealed class GrainExceptionHandler(IProblemDetailsService problems, ILogger<GrainExceptionHandler> log) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        // Orleans rethrows a grain's exception on the caller with its own type and message.
        var type = exception.GetType().FullName ?? "";
        var message = exception.Message;
        var (status, title) = type switch
        {
            _ when exception is ArgumentException || type.EndsWith("ArgumentException", StringComparison.Ordinal) || type.EndsWith("ArgumentOutOfRangeException", StringComparison.Ordinal) => (400, "Invalid request"),
            _ when type.EndsWith("InvalidOperationException", StringComparison.Ordinal) => (409, "Conflict"),
            _ when type.EndsWith(nameof(EmbeddingUnavailableException), StringComparison.Ordinal) => (503, "Dense retrieval unavailable"),
            // The store refused or dropped a read or write; nothing half-done is kept, so the same request may be sent again.
            _ when exception is StorageUnavailableException => (503, "Storage unavailable"),
            _ when exception is IngestBacklogFullException => (503, "Ingest backlog full"),
            _ when exception is DocumentBusyException => (503, "Document busy"),
            _ when exception is CollectionGoneException => (409, "Collection deleted"),
            _ when exception is ShardLayoutChangedException => (503, "Collection resharding"),
            _ when exception is KeyNotFoundException => (404, "Not found"),
            // A call timeout, a silo that left or cannot be reached, a message refused while the cluster reconfigures, or a
            // write that lost an ETag race: all pass; the client may retry (idempotent endpoints) after Retry-After.
            _ when DocumentRefusal.IsTransient(exception) => (503, "Cluster busy or changing"),
            _ when exception is BadHttpRequestException bad => (bad.StatusCode, "Bad request"),
            // A body that is not what its Content-Type says (e.g. multipart without a valid boundary).
            _ when exception is InvalidDataException => (400, "Malformed request body"),
            _ => (500, "Internal error"),
        };
        if (status == 500)
        {
            log.LogError(exception, "unhandled error in {Method} {Path}", http.Request.Method, http.Request.Path);
            message = "an unexpected error occurred; see the silo log";
        }
        http.Response.StatusCode = status;
        if (status == 503) http.Response.Headers.RetryAfter = StorageUnavailableException.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = message },
        });
    }
}
