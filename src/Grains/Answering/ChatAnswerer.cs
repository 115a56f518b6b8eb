using System.ClientModel;
using System.ClientModel.Primitives;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using OpenAI;
using Polly.CircuitBreaker;
using Polly.Timeout;
using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Grains.Answering;

public static class LlmServiceCollectionExtensions
{
    public const string HttpClientName = "ragcluster-llm";

    /// <summary>
    /// The LLM as a Microsoft.Extensions.AI <see cref="IChatClient"/> over the OpenAI client, whose HTTP calls go
    /// through Microsoft.Extensions.Http.Resilience's standard pipeline: retries with backoff (its defaults: transport
    /// errors, 408, 429 with Retry-After, 5xx), a circuit breaker and timeouts per attempt and in all.
    /// </summary>
    public static IServiceCollection AddRagLlm(this IServiceCollection services, LlmOptions llm)
    {
        llm.Validate();
        services.AddHttpClient(HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan) // the pipeline owns timeouts
            .AddStandardResilienceHandler(o =>
            {
                var attempt = TimeSpan.FromSeconds(llm.TimeoutSeconds);
                o.AttemptTimeout.Timeout = attempt;
                o.Retry.MaxRetryAttempts = Math.Max(1, llm.MaxRetries);
                if (llm.MaxRetries == 0) o.Retry.ShouldHandle = _ => ValueTask.FromResult(false);
                o.Retry.Delay = TimeSpan.FromMilliseconds(200);
                o.TotalRequestTimeout.Timeout = attempt * (llm.MaxRetries + 1) + TimeSpan.FromSeconds(5);
                o.CircuitBreaker.FailureRatio = llm.BreakerFailureRatio;
                o.CircuitBreaker.MinimumThroughput = 4;
                o.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(Math.Max(30, 2 * llm.TimeoutSeconds)); // must be ≥ 2 attempts
                o.CircuitBreaker.BreakDuration = TimeSpan.FromSeconds(llm.BreakerBreakSeconds);
            });
        services.TryAddSingleton(llm);
        services.TryAddSingleton(sp => new ChatAnswerer(llm,
            llm.IsConfigured ? CreateChatClient(llm, sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName)) : null,
            sp.GetRequiredService<ILogger<ChatAnswerer>>()));
        return services;
    }

    private static IChatClient CreateChatClient(LlmOptions llm, HttpClient http) =>
        new OpenAIClient(new ApiKeyCredential(llm.ApiKey.Length > 0 ? llm.ApiKey : "none"), new OpenAIClientOptions
        {
            Endpoint = new Uri(llm.Endpoint.TrimEnd('/') + "/"),
            Transport = new HttpClientPipelineTransport(http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // one retry policy: the resilience pipeline's
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        }).GetChatClient(llm.Model).AsIChatClient();
}

/// <summary>
/// Generated answers grounded in the retrieved chunks, through <see cref="IChatClient"/>. When the breaker is open
/// or every attempt failed, the caller gets null with the reason and falls back to the extractive answer.
/// </summary>
public sealed class ChatAnswerer(LlmOptions options, IChatClient? chat, ILogger<ChatAnswerer> log)
{
    private const string Instructions = "Answer only from the numbered passages. Cite every claim with its passage number in brackets, like [1]. If the passages do not contain the answer, say so.";

    public bool IsConfigured => chat is not null;

    /// <summary>The whole answer, or null (with the reason) when the LLM cannot be used now.</summary>
    public async Task<(Answer? Answer, string? Reason)> AnswerAsync(string question, IReadOnlyList<SearchHit> hits, CancellationToken ct)
    {
        if (chat is null) return (null, "no Llm:Endpoint configured");
        try
        {
            var response = await chat.GetResponseAsync(Messages(question, hits), ChatOptions(), ct);
            return (WithCitations(response.Text, hits), null);
        }
        catch (Exception e) when (IsLlmFailure(e, ct))
        {
            log.LlmAnswerFailed(Reason(e));
            return (null, Reason(e));
        }
    }

    private const string CondenseInstructions = "Rewrite the user's last question as one standalone question that can be understood without the conversation, keeping its language. Reply with the question alone.";

    /// <summary>
    /// A follow-up rewritten as a standalone question from the conversation's turns (the condense step of chat RAG), or
    /// null when the LLM cannot be used now (logged; the caller then searches without it).
    /// </summary>
    public async Task<string?> CondenseAsync(string question, IReadOnlyList<(string Question, string Answer)> turns, CancellationToken ct)
    {
        if (chat is null) return null;
        var conversation = new StringBuilder();
        foreach (var (q, a) in turns) conversation.Append($"User: {q}\nAssistant: {(a.Length > 1000 ? a[..1000] : a)}\n");
        try
        {
            var response = await chat.GetResponseAsync([new(ChatRole.System, CondenseInstructions),
                new(ChatRole.User, $"Conversation:\n{conversation}\nLast question: {question}")], ChatOptions(), ct);
            var text = response.Text.Trim();
            if (text.Length is > 0 and <= QueryLimits.MaxQueryChars) return text;
            log.LlmCondenseFailed("its standalone question was empty or too long for a query");
            return null;
        }
        catch (Exception e) when (IsLlmFailure(e, ct))
        {
            log.LlmCondenseFailed(Reason(e));
            return null;
        }
    }

    /// <summary>
    /// Streams the answer's text as the LLM produces it (<see cref="IChatClient.GetStreamingResponseAsync"/>). If the
    /// call fails before the first piece, nothing is yielded and <paramref name="failure"/> says why.
    /// </summary>
    public async IAsyncEnumerable<string> StreamAsync(string question, IReadOnlyList<SearchHit> hits, StreamFailure failure,
        [EnumeratorCancellation] CancellationToken ct)
    {
        if (chat is null)
        {
            failure.Reason = "no Llm:Endpoint configured";
            yield break;
        }
        await using var updates = chat.GetStreamingResponseAsync(Messages(question, hits), ChatOptions(), ct).GetAsyncEnumerator(ct);
        while (true)
        {
            string? piece;
            try
            {
                if (!await updates.MoveNextAsync()) yield break;
                piece = updates.Current.Text;
            }
            catch (Exception e) when (IsLlmFailure(e, ct))
            {
                failure.Reason = Reason(e);
                log.LlmStreamFailed(failure.Reason);
                yield break;
            }
            if (!string.IsNullOrEmpty(piece)) yield return piece;
        }
    }

    public sealed class StreamFailure
    {
        public string? Reason { get; set; }
    }

    private static bool IsLlmFailure(Exception e, CancellationToken ct) =>
        e is ClientResultException or HttpRequestException or BrokenCircuitException or TimeoutRejectedException or InvalidOperationException
        || (e is OperationCanceledException && !ct.IsCancellationRequested);

    private static string Reason(Exception e) =>
        e is BrokenCircuitException || e.InnerException is BrokenCircuitException ? "circuit open after repeated LLM failures"
        : e is TimeoutRejectedException || e.InnerException is TimeoutRejectedException ? "the LLM did not answer in time"
        : e is ClientResultException { Status: > 0 } c ? $"the LLM endpoint answered {c.Status}"
        : e.Message.Split('\n')[0].Trim();

    private ChatOptions ChatOptions() => new() { Temperature = 0, MaxOutputTokens = options.MaxTokens };

    private static List<ChatMessage> Messages(string question, IReadOnlyList<SearchHit> hits)
    {
        var context = new StringBuilder();
        for (var i = 0; i < hits.Count; i++) context.Append($"[{i + 1}] (document {hits[i].DocumentId})\n{hits[i].Text}\n\n");
        return [new(ChatRole.System, Instructions), new(ChatRole.User, $"Passages:\n\n{context}Question: {question}")];
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
