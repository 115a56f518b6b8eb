using System.Threading.RateLimiting;
using RagCluster.Api.Auth;
using RagCluster.Configuration;

namespace RagCluster.Api.Limits;

public static class RateLimits
{
    /// <summary>Health probes are never limited: a busy cluster must not look dead to its orchestrator.</summary>
    public sealed class Unlimited;

    public static void AddRagRateLimits(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetValidated<RateLimitOptions>("RateLimit");
        services.AddSingleton(options);
        services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                if (http.GetEndpoint()?.Metadata.GetMetadata<Unlimited>() is not null) return RateLimitPartition.GetNoLimiter("unlimited");
                return http.User.KeyId() is { } key
                    ? Bucket("key:" + key, options.PermitsPerSecond, options.Burst)
                    : Bucket("ip:" + http.Connection.RemoteIpAddress, options.AnonymousPermitsPerSecond, options.AnonymousBurst);
            });
            o.OnRejected = async (context, ct) =>
            {
                var http = context.HttpContext;
                var wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
                http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                    detail: $"rate limit exceeded; retry after {seconds} s").ExecuteAsync(http);
            };
        });
    }

    /// <summary>
    /// Guesses at keys cost a grain activation each (and authentication runs before the request limiter can tell
    /// callers apart), so failed checks get their own bucket per address, consulted before the cluster is asked.
    /// </summary>
    public static PartitionedRateLimiter<string> FailedKeyChecks(RateLimitOptions options) =>
        PartitionedRateLimiter.Create<string, string>(address => Bucket(address, options.FailedKeyChecksPerSecond, options.FailedKeyChecksBurst));

    private static RateLimitPartition<string> Bucket(string partition, int perSecond, int burst) =>
        RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst, TokensPerPeriod = perSecond, ReplenishmentPeriod = TimeSpan.FromSeconds(1), QueueLimit = 0, AutoReplenishment = true,
        });
}

/// <summary>Per-endpoint request body limit (the server-wide one is the upload limit): JSON endpoints take far less.</summary>
public sealed record BodyLimit(long Bytes)
{
    public const long Json = 1024 * 1024;

    /// <summary>Applies the matched endpoint's limit before its body is read; an oversized declared body is refused at once.</summary>
    public static async Task Apply(HttpContext http, RequestDelegate next)
    {
        var limit = http.GetEndpoint()?.Metadata.GetMetadata<BodyLimit>()?.Bytes ?? Json;
        if (http.Request.ContentLength > limit)
        {
            await Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Request body too large",
                detail: $"this endpoint accepts at most {limit} bytes").ExecuteAsync(http);
            return;
        }
        var feature = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false }) feature.MaxRequestBodySize = limit;
        await next(http);
    }
}
