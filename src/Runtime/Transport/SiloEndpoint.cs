using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using BadHttpRequestException = Microsoft.AspNetCore.Http.BadHttpRequestException;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RagCluster.Runtime.Hosting;
using RagCluster.Runtime.Messaging;

namespace RagCluster.Runtime.Transport;

/// <summary>
/// The silo's own Kestrel server: HTTP/2 only, cleartext, serving call frames. It is separate from any public
/// HTTP API in the same process, so the API keeps its own ports, protocols and middleware.
/// </summary>
internal sealed class SiloEndpoint : IAsyncDisposable
{
    private WebApplication? _app;

    public async Task<int> StartAsync(SiloOptions options, Func<RequestFrame, Task<ResponseFrame>> dispatch, Func<long> viewVersion,
        Func<object> status, ILoggerFactory loggerFactory)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // The endpoint's own web host stays silent; the silo logs what matters through its logger.
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxMessageBytes;
            k.Limits.Http2.MaxStreamsPerConnection = 1000;
            k.Limits.Http2.InitialConnectionWindowSize = 4 * 1024 * 1024;
            k.Limits.Http2.InitialStreamWindowSize = 1024 * 1024;
            k.Listen(System.Net.IPAddress.Parse(options.ListenAddress), options.SiloPort, l => l.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        var log = loggerFactory.CreateLogger("RagCluster.Transport");

        app.MapPost(SiloTransportClient.CallPath, async (HttpContext http) =>
        {
            byte[] body;
            try
            {
                body = await ReadBodyAsync(http, options.MaxMessageBytes);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Problem(StatusCodes.Status413PayloadTooLarge, "Message too large", $"call frames are limited to {options.MaxMessageBytes} bytes");
            }
            catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException)
            {
                return Problem(StatusCodes.Status400BadRequest, "Unreadable request", e.Message);
            }
            RequestFrame frame;
            try
            {
                frame = RequestFrame.Decode(body);
            }
            catch (BadMessageException e)
            {
                log.LogInformation("Rejected a malformed call frame from {Remote}: {Reason}", http.Connection.RemoteIpAddress, e.Message);
                return Problem(StatusCodes.Status400BadRequest, "Malformed call frame", e.Message);
            }
            ResponseFrame response;
            try
            {
                response = await dispatch(frame);
            }
            catch (Exception e)
            {
                log.LogError(e, "Dispatch of a call to {Grain} failed", frame.Target);
                response = ResponseFrame.FromException(e, viewVersion());
            }
            return Results.Bytes(response.Encode(), "application/octet-stream");
        });
        app.MapGet("/rpc/status", () => Results.Json(status()));
        // Spans this silo recorded for one trace (the dashboard's per-query view).
        app.MapGet("/rpc/spans", (string? traceId) => traceId is { Length: 32 } && traceId.All(char.IsAsciiHexDigitLower)
            ? Results.Json(Diagnostics.SpanRecorder.ForTrace(traceId))
            : Problem(StatusCodes.Status400BadRequest, "Invalid trace id", "traceId must be 32 lowercase hex digits"));

        await app.StartAsync();
        _app = app;
        var address = app.Urls.First();
        return new Uri(address).Port;
    }

    private static async Task<byte[]> ReadBodyAsync(HttpContext http, int limit)
    {
        if (http.Request.ContentLength > limit)
            throw new BadHttpRequestException("too large", StatusCodes.Status413PayloadTooLarge);
        using var buffer = new MemoryStream(http.Request.ContentLength is { } n ? (int)n : 4096);
        await http.Request.Body.CopyToAsync(buffer, http.RequestAborted);
        return buffer.ToArray();
    }

    private static IResult Problem(int status, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail);

    /// <summary>Graceful: finish in-flight requests briefly. Abrupt: drop connections now (crash simulation).</summary>
    public async Task StopAsync(bool abrupt)
    {
        if (Interlocked.Exchange(ref _app, null) is not { } app) return;
        using var cts = new CancellationTokenSource(abrupt ? TimeSpan.Zero : TimeSpan.FromSeconds(2));
        try { await app.StopAsync(cts.Token); } catch (OperationCanceledException) { }
        await app.DisposeAsync();
    }

    public ValueTask DisposeAsync() => new(StopAsync(abrupt: false));
}
