using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RagCluster.Api.Diagnostics;

/// <summary>
/// Requests by route template, method and status, and their duration: refusals (401, 403, 413, 429) show up per
/// endpoint, so an operator can tell an attack or a misconfigured client from a slow cluster. Route templates, not
/// paths, keep the label set bounded.
/// </summary>
public static class HttpMetrics
{
    public static readonly Meter Meter = new("RagCluster.Api");

    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("rc_http_requests_total",
        description: "HTTP requests by route template, method and status");

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("rc_http_request_duration_seconds", "s",
        "HTTP request time by route template (until the handler returns; streamed answers included)");

    public static async Task Middleware(HttpContext http, RequestDelegate next)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(http);
        }
        finally
        {
            var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText is { } raw ? "/" + raw.TrimStart('/') : "unmatched";
            Requests.Add(1, new TagList { { "route", route }, { "method", http.Request.Method.Length <= 10 ? http.Request.Method : "other" }, { "status", http.Response.StatusCode } });
            Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new TagList { { "route", route } });
        }
    }
}
