using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace RagCluster.Client;

/// <summary>The API refused or failed a request: the problem it answered (RFC 7807), and when to try again if it said.</summary>
public sealed class RagClusterException(HttpStatusCode status, string title, string? detail, string? traceId, TimeSpan? retryAfter)
    : Exception(detail is { Length: > 0 } ? $"{(int)status} {title}: {detail}" : $"{(int)status} {title}")
{
    public HttpStatusCode StatusCode { get; } = status;
    public string Title { get; } = title;
    public string? Detail { get; } = detail;
    /// <summary>The request's trace id: the dashboard and the logs find the failure by it.</summary>
    public string? TraceId { get; } = traceId;
    /// <summary>Set on 429 and 503: nothing of the request was kept, and it may be sent again after this long.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>
/// RagCluster's HTTP API, typed: collections, documents (one, a batch, a file, own vectors), statuses, search, ask
/// (whole or streamed), API keys and backups, plus bulk helpers that page through large inputs. Thread-safe; one
/// instance per API base address is enough.
/// </summary>
public sealed partial class RagClusterClient : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly RagClusterClientOptions _options;

    /// <summary>A client with its own HttpClient for the API at <paramref name="baseAddress"/> (e.g. http://localhost:8080).</summary>
    public RagClusterClient(Uri baseAddress, string? apiKey = null) : this(baseAddress, new RagClusterClientOptions { ApiKey = apiKey }) { }

    /// <summary>A client with its own HttpClient for the API at <paramref name="baseAddress"/>, as <paramref name="options"/> say.</summary>
    public RagClusterClient(Uri baseAddress, RagClusterClientOptions options)
        : this(new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(5) }, options) => _ownsHttp = true;

    /// <summary>A client over <paramref name="http"/> (from IHttpClientFactory, say), whose BaseAddress is the API's.</summary>
    public RagClusterClient(HttpClient http, RagClusterClientOptions? options = null)
    {
        _http = http;
        _options = options ?? new RagClusterClientOptions();
        if (http.BaseAddress is null) throw new ArgumentException("the HttpClient needs a BaseAddress: the API's root URL", nameof(http));
        if (_options.MaxRetries < 0) throw new ArgumentOutOfRangeException(nameof(options), "MaxRetries must not be negative");
    }

    public Uri BaseAddress => _http.BaseAddress!;

    /// <summary>
    /// Sends a request made by <paramref name="request"/> (made again for each attempt, since a sent message cannot be
    /// resent), waiting out 429/503 refusals as <see cref="RagClusterClientOptions"/> allows. Throws
    /// <see cref="RagClusterException"/> for any other non-success answer.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> request, CancellationToken ct,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var message = request();
            if (_options.ApiKey is { Length: > 0 } key) message.Headers.TryAddWithoutValidation("X-Api-Key", key);
            var response = await _http.SendAsync(message, completion, ct).ConfigureAwait(false);
            if (response.IsSuccessStatusCode) return response;
            var wait = RetryDelay(response);
            if (wait is { } delay && attempt < _options.MaxRetries && delay <= _options.MaxRetryDelay)
            {
                response.Dispose();
                await Task.Delay(delay, ct).ConfigureAwait(false);
                continue;
            }
            using (response) throw await ProblemAsync(response, wait, ct).ConfigureAwait(false);
        }
    }

    private static TimeSpan? RetryDelay(HttpResponseMessage response)
    {
        if (response.StatusCode is not (HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)) return null;
        var header = response.Headers.RetryAfter;
        var delay = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : TimeSpan.FromSeconds(1));
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay;
    }

    private static async Task<RagClusterException> ProblemAsync(HttpResponseMessage response, TimeSpan? retryAfter, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        ProblemBody? problem = null;
        try { problem = JsonSerializer.Deserialize<ProblemBody>(text, Json); }
        catch (JsonException) { /* not a problem document (a proxy's page): its text is the detail */ }
        return new RagClusterException(response.StatusCode, problem?.Title ?? response.ReasonPhrase ?? "HTTP error",
            problem is null ? (text.Length > 500 ? text[..500] : text) : problem.Detail, problem?.TraceId, retryAfter);
    }

    private async Task<T> ReadAsync<T>(Func<HttpRequestMessage> request, CancellationToken ct)
    {
        using var response = await SendAsync(request, ct).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<T>(Json, ct).ConfigureAwait(false)
               ?? throw new RagClusterException(response.StatusCode, "Empty answer", $"the API answered {typeof(T).Name} with no body", null, null);
    }

    private Task<T> GetAsync<T>(string path, CancellationToken ct) => ReadAsync<T>(() => new HttpRequestMessage(HttpMethod.Get, path), ct);

    private Task<T> SendJsonAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct) =>
        ReadAsync<T>(() => new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body, body.GetType(), options: Json) }, ct);

    private async Task SendNoContentAsync(HttpMethod method, string path, CancellationToken ct)
    {
        using var _ = await SendAsync(() => new HttpRequestMessage(method, path), ct).ConfigureAwait(false);
    }

    /// <summary>A path segment, escaped (document ids may hold spaces, '#', '%').</summary>
    private static string Segment(string value) => Uri.EscapeDataString(value);

    private static string CollectionPath(string collection) => $"v1/collections/{Segment(collection)}";

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }
}
