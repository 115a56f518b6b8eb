using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using RagCluster.Grains.Interfaces.Rag;

namespace RagCluster.Grains.Querying;

/// <summary>Bound from "Llm": an OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp server).</summary>
public sealed class LlmOptions
{
    /// <summary>Base URL up to /v1, e.g. http://127.0.0.1:11434/v1 for Ollama. Empty: extractive answers only.</summary>
    public string Endpoint { get; set; } = "";
    public string Model { get; set; } = "";
    public string ApiKey { get; set; } = "";
    public double TimeoutSeconds { get; set; } = 30;
    public int MaxRetries { get; set; } = 2;
    /// <summary>The breaker opens when this share of calls failed within 30 s (at least 4 calls)…</summary>
    public double BreakerFailureRatio { get; set; } = 0.5;
    /// <summary>…and stays open this long; meanwhile /ask answers extractively.</summary>
    public double BreakerBreakSeconds { get; set; } = 30;
    public int MaxTokens { get; set; } = 512;
}

/// <summary>
/// Generated answers grounded in the retrieved chunks. Calls go through Polly: a timeout per attempt, retries
/// with exponential backoff for transport errors, 5xx and 429, and a circuit breaker. When the breaker is open
/// or every attempt failed, the caller gets null and falls back to the extractive answer.
/// </summary>
public sealed class ChatAnswerer
{
    private readonly LlmOptions _options;
    private readonly HttpClient _http;
    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger<ChatAnswerer> _log;

    public ChatAnswerer(LlmOptions options, ILogger<ChatAnswerer> log, HttpMessageHandler? handler = null)
    {
        _options = options;
        _log = log;
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.Timeout = Timeout.InfiniteTimeSpan; // Polly owns timeouts
        if (IsConfigured)
        {
            _http.BaseAddress = new Uri(options.Endpoint.TrimEnd('/') + "/");
            if (options.ApiKey.Length > 0) _http.DefaultRequestHeaders.Authorization = new("Bearer", options.ApiKey);
        }
        var transient = new PredicateBuilder().Handle<HttpRequestException>().Handle<TimeoutRejectedException>();
        _pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = transient, MaxRetryAttempts = Math.Max(0, options.MaxRetries), BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromMilliseconds(200), UseJitter = true,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = transient, FailureRatio = options.BreakerFailureRatio, MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromSeconds(30), BreakDuration = TimeSpan.FromSeconds(Math.Max(0.5, options.BreakerBreakSeconds)),
            })
            .AddTimeout(TimeSpan.FromSeconds(options.TimeoutSeconds))
            .Build();
    }

    public bool IsConfigured => !string.IsNullOrWhiteSpace(_options.Endpoint);

    /// <summary>The whole answer, or null (with the reason) when the LLM cannot be used now.</summary>
    public async Task<(Answer? Answer, string? Reason)> AnswerAsync(string question, IReadOnlyList<SearchHit> hits, CancellationToken ct)
    {
        if (!IsConfigured) return (null, "no Llm:Endpoint configured");
        try
        {
            var text = await _pipeline.ExecuteAsync(async token =>
            {
                using var response = await _http.PostAsJsonAsync("chat/completions", Request(question, hits, stream: false), token);
                ThrowIfTransient(response);
                response.EnsureSuccessStatusCode();
                var json = await response.Content.ReadFromJsonAsync<JsonElement>(token);
                return json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString() ?? "";
            }, ct);
            return (WithCitations(text, hits), null);
        }
        catch (Exception e) when (e is BrokenCircuitException or HttpRequestException or TimeoutRejectedException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            _log.LogWarning("LLM answer failed, falling back to extractive: {Reason}", e.Message);
            return (null, e is BrokenCircuitException ? "circuit open after repeated LLM failures" : e.Message);
        }
    }

    /// <summary>
    /// Streams the answer's text as the LLM produces it. Connecting (and the first response) goes through the
    /// resilience pipeline; a failure then yields nothing and sets <paramref name="failure"/> via the result.
    /// </summary>
    public async IAsyncEnumerable<string> StreamAsync(string question, IReadOnlyList<SearchHit> hits, StreamFailure failure,
        [EnumeratorCancellation] CancellationToken ct)
    {
        HttpResponseMessage? response = null;
        try
        {
            response = await _pipeline.ExecuteAsync(async token =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, "chat/completions") { Content = JsonContent.Create(Request(question, hits, stream: true)) };
                var r = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
                ThrowIfTransient(r);
                r.EnsureSuccessStatusCode();
                return r;
            }, ct);
        }
        catch (Exception e) when (e is BrokenCircuitException or HttpRequestException or TimeoutRejectedException)
        {
            failure.Reason = e is BrokenCircuitException ? "circuit open after repeated LLM failures" : e.Message;
        }
        if (response is null) yield break;
        using (response)
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
                var data = line[5..].Trim();
                if (data == "[DONE]") yield break;
                string? piece = null;
                try
                {
                    var delta = JsonDocument.Parse(data).RootElement.GetProperty("choices")[0].GetProperty("delta");
                    if (delta.TryGetProperty("content", out var c)) piece = c.GetString();
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException)
                {
                    // Skip malformed events rather than breaking the stream.
                }
                if (!string.IsNullOrEmpty(piece)) yield return piece;
            }
        }
    }

    public sealed class StreamFailure
    {
        public string? Reason { get; set; }
    }

    private static void ThrowIfTransient(HttpResponseMessage r)
    {
        if ((int)r.StatusCode >= 500 || (int)r.StatusCode == 429)
            throw new HttpRequestException($"LLM endpoint answered {(int)r.StatusCode}", null, r.StatusCode);
    }

    private object Request(string question, IReadOnlyList<SearchHit> hits, bool stream)
    {
        var context = new StringBuilder();
        for (var i = 0; i < hits.Count; i++) context.Append($"[{i + 1}] (document {hits[i].DocumentId})\n{hits[i].Text}\n\n");
        return new
        {
            model = _options.Model,
            stream,
            temperature = 0,
            max_tokens = _options.MaxTokens,
            messages = new object[]
            {
                new { role = "system", content = "Answer only from the numbered passages. Cite every claim with its passage number in brackets, like [1]. If the passages do not contain the answer, say so." },
                new { role = "user", content = $"Passages:\n\n{context}Question: {question}" },
            },
        };
    }

    /// <summary>Citations are the passages the text refers to as [n] (all passages if it cites none).</summary>
    public static Answer WithCitations(string text, IReadOnlyList<SearchHit> hits)
    {
        var cited = Regex.Matches(text, @"\[(\d{1,3})\]").Select(m => int.Parse(m.Groups[1].Value)).Where(n => n >= 1 && n <= hits.Count).Distinct().ToList();
        if (cited.Count == 0) cited = Enumerable.Range(1, hits.Count).ToList();
        return new Answer(text.Trim(), cited.Order().Select(n =>
        {
            var h = hits[n - 1];
            return new Citation(n, h.DocumentId, h.ChunkId, h.Start, h.End, h.Score, h.Text.Length > 300 ? h.Text[..300] : h.Text);
        }).ToArray());
    }
}
