using Microsoft.AspNetCore.Diagnostics;
using RagCluster.Grains.Embedding;
using RagCluster.Runtime;

namespace RagCluster.Api;

/// <summary>
/// Turns exceptions from grains into problem details: bad arguments are the caller's 400, conflicts 409, a
/// cluster that cannot serve right now 503 (retriable); anything else stays a 500 without internals.
/// </summary>
public sealed class GrainExceptionHandler(IProblemDetailsService problems, ILogger<GrainExceptionHandler> log) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var type = exception is RemoteGrainException r ? r.RemoteType : exception.GetType().FullName ?? "";
        var message = exception is RemoteGrainException remote ? remote.Message[(remote.RemoteType.Length + 2)..] : exception.Message;
        var (status, title) = type switch
        {
            _ when exception is ArgumentException || type.EndsWith("ArgumentException", StringComparison.Ordinal) || type.EndsWith("ArgumentOutOfRangeException", StringComparison.Ordinal) => (400, "Invalid request"),
            _ when type.EndsWith("InvalidOperationException", StringComparison.Ordinal) => (409, "Conflict"),
            _ when type.EndsWith(nameof(EmbeddingUnavailableException), StringComparison.Ordinal) => (503, "Dense retrieval unavailable"),
            _ when exception is GrainRuntimeException { IsRetriable: true } or GrainCallTimeoutException or SiloUnavailableException => (503, "Cluster busy or changing"),
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
        if (status == 503) http.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = message },
        });
    }
}
