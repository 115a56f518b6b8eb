using System.Net;
using System.Net.Http.Headers;
using RagCluster.Runtime.Messaging;

namespace RagCluster.Runtime.Transport;

/// <summary>
/// Sends call frames to silos over HTTP/2 without TLS (prior knowledge). One HttpClient multiplexes all calls
/// to a silo as streams of a few shared connections.
/// </summary>
internal sealed class SiloTransportClient : IDisposable
{
    public const string CallPath = "/rpc/call";
    private static readonly MediaTypeHeaderValue Binary = new("application/octet-stream");
    private readonly HttpClient _http;
    private readonly int _maxMessageBytes;

    public SiloTransportClient(int maxMessageBytes)
    {
        _maxMessageBytes = maxMessageBytes;
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(3),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            // A dead silo's connection must not linger: keep-alive pings notice a silent peer.
            KeepAlivePingDelay = TimeSpan.FromSeconds(5),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _http = new HttpClient(handler)
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>GETs a diagnostics document (JSON) from another silo's endpoint, e.g. /rpc/status.</summary>
    public async Task<string> GetDiagnosticsAsync(string address, string pathAndQuery, TimeSpan timeout)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, address + pathAndQuery) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var cts = new CancellationTokenSource(timeout);
        using var response = await _http.SendAsync(request, cts.Token);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync(cts.Token);
    }

    /// <summary>
    /// Sends <paramref name="frame"/> to the silo at <paramref name="address"/>. Transport failures come back as
    /// frames too: Unavailable when the call surely did not reach a grain, OutcomeUnknown when it may have.
    /// </summary>
    public async Task<ResponseFrame> SendAsync(string address, RequestFrame frame, long viewVersion)
    {
        var body = frame.Encode();
        if (body.Length > _maxMessageBytes)
            return ResponseFrame.FromException(new BadMessageException($"call to {frame.Target} is {body.Length} bytes; the limit is {_maxMessageBytes}"), viewVersion);
        // HttpRequestMessage defaults to HTTP/1.1 whatever the client says: ask for h2c explicitly.
        using var request = new HttpRequestMessage(HttpMethod.Post, address + CallPath)
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = Binary;
        using var cts = new CancellationTokenSource(frame.TimeoutMs);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return ResponseFrame.FromException(new GrainCallTimeoutException($"call to {frame.Target} timed out after {frame.TimeoutMs} ms waiting for {address}"), viewVersion);
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            return ResponseFrame.Failure(ResponseStatus.Unavailable, $"silo {address} is unreachable: {e.Message}", viewVersion);
        }
        catch (HttpRequestException e)
        {
            return ResponseFrame.Failure(ResponseStatus.OutcomeUnknown, $"connection to silo {address} broke during the call to {frame.Target}: {e.Message}", viewVersion);
        }
        using (response)
        {
            byte[] payload;
            try
            {
                payload = await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
            {
                return ResponseFrame.Failure(ResponseStatus.OutcomeUnknown, $"reply from silo {address} was cut off: {e.Message}", viewVersion);
            }
            switch (response.StatusCode)
            {
                case HttpStatusCode.OK:
                    try { return ResponseFrame.Decode(payload); }
                    catch (BadMessageException e) { return ResponseFrame.Failure(ResponseStatus.OutcomeUnknown, $"unreadable reply from {address}: {e.Message}", viewVersion); }
                case HttpStatusCode.RequestEntityTooLarge:
                    return ResponseFrame.FromException(new BadMessageException($"silo {address} refused the call to {frame.Target}: the message exceeds the silo's size limit"), viewVersion);
                case HttpStatusCode.ServiceUnavailable:
                    return ResponseFrame.Failure(ResponseStatus.Unavailable, $"silo {address} is not serving", viewVersion);
                default:
                    return ResponseFrame.FromException(new BadMessageException($"silo {address} answered {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(payload)}"), viewVersion);
            }
        }
    }

    public void Dispose() => _http.Dispose();
}
