using System.Diagnostics;
using System.Globalization;

namespace RagCluster.Api.Timing;

/// <summary>
/// Every answer says how long the silo took to start it, as W3C Server-Timing (<c>app;dur=12.3</c>, milliseconds from
/// the request's arrival at this middleware to its response's first byte), so a client can tell time spent in the
/// cluster from time spent on the way (browsers' developer tools show it too). The fault suite reads it to tell a
/// search that waited on a dead silo from one that waited on its own machine.
/// </summary>
public static class ServerTiming
{
    public const string Header = "Server-Timing";

    public static Task Apply(HttpContext http, RequestDelegate next)
    {
        var start = Stopwatch.GetTimestamp();
        http.Response.OnStarting(() =>
        {
            http.Response.Headers[Header] = "app;dur=" + Stopwatch.GetElapsedTime(start).TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        });
        return next(http);
    }
}
