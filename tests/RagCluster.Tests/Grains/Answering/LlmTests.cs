using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RagCluster.Grains.Answering;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>ChatAnswerer against a fake OpenAI-compatible server on loopback that can answer, stream or fail.</summary>
public sealed class LlmTests : IAsyncLifetime
{
    private readonly FakeLlmServer _server = new();
    private string _url => _server.Url;

    private static readonly SearchHit[] Hits =
    [
        new("tea", "tea#0", 0, 0, 48, "Green tea is brewed at about 80 degrees Celsius.", [], 0.9),
        new("coffee", "coffee#0", 0, 0, 40, "Espresso is brewed under nine bars.", [], 0.5),
    ];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>As the silo builds it: IChatClient over the OpenAI client, behind the standard resilience pipeline.</summary>
    private ChatAnswerer NewAnswerer(LlmOptions? options = null) =>
        new ServiceCollection().AddLogging().AddRagLlm(options ?? new LlmOptions { Endpoint = _url, Model = "test", TimeoutSeconds = 5, MaxRetries = 1, BreakerBreakSeconds = 60 })
            .BuildServiceProvider().GetRequiredService<ChatAnswerer>();

    [Fact]
    public async Task Generated_answers_cite_only_the_passages_they_use_and_stream()
    {
        var llm = NewAnswerer();
        var (answer, reason) = await llm.AnswerAsync("How hot for green tea?", Hits, CancellationToken.None);
        Assert.Null(reason);
        Assert.Equal("Generated: 80 degrees [1].", answer!.Text);
        Assert.Equal("test", _server.LastModel);
        Assert.Contains("[1] (document tea)\nGreen tea is brewed", _server.LastUserText); // the passages, numbered
        Assert.Equal("tea", Assert.Single(answer.Citations).DocumentId);

        var failure = new ChatAnswerer.StreamFailure();
        var pieces = new List<string>();
        await foreach (var p in llm.StreamAsync("How hot for green tea?", Hits, failure, CancellationToken.None)) pieces.Add(p);
        Assert.Equal(["Generated: ", "80 degrees ", "[1]."], pieces);
        Assert.Null(failure.Reason);
    }

    [Fact]
    public async Task Failures_are_retried_then_the_breaker_opens_and_callers_fall_back()
    {
        var llm = NewAnswerer();
        _server.Failing = true;
        var (first, reason) = await llm.AnswerAsync("q", Hits, CancellationToken.None);
        Assert.Null(first);
        Assert.Contains("503", reason);
        Assert.Equal(2, _server.Requests); // one retry
        await llm.AnswerAsync("q", Hits, CancellationToken.None); // 4 failed attempts: the breaker's minimum throughput
        var before = _server.Requests;
        var (open, why) = await llm.AnswerAsync("q", Hits, CancellationToken.None);
        Assert.Null(open);
        Assert.Contains("circuit open", why);
        Assert.Equal(before, _server.Requests); // the open breaker did not call the server

        var failure = new ChatAnswerer.StreamFailure();
        await foreach (var _ in llm.StreamAsync("q", Hits, failure, CancellationToken.None)) Assert.Fail("no tokens while open");
        Assert.Contains("circuit open", failure.Reason);

        var unconfigured = NewAnswerer(new LlmOptions());
        Assert.False(unconfigured.IsConfigured);
        Assert.Equal("no Llm:Endpoint configured", (await unconfigured.AnswerAsync("q", Hits, CancellationToken.None)).Reason);
    }
}

/// <summary>An OpenAI-compatible server on loopback that answers, streams, or fails with 503, as told.</summary>
public sealed class FakeLlmServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    public string Url { get; }
    public volatile bool Failing;
    public int Requests;
    public string? LastModel { get; private set; }
    public string? LastUserText { get; private set; }
    /// <summary>Every request's user message, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> UserTexts { get; } = new();

    public FakeLlmServer()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            Interlocked.Increment(ref Requests);
            var body = await JsonDocument.ParseAsync(http.Request.Body);
            // As OpenAI's API reads it: content is a string or a list of text parts; "stream" is optional (false).
            var user = body.RootElement.GetProperty("messages")[1].GetProperty("content");
            LastUserText = user.ValueKind == JsonValueKind.String ? user.GetString() : string.Concat(user.EnumerateArray().Select(p => p.GetProperty("text").GetString()));
            UserTexts.Enqueue(LastUserText ?? "");
            LastModel = body.RootElement.GetProperty("model").GetString();
            if (Failing) { http.Response.StatusCode = 503; return; }
            if (body.RootElement.TryGetProperty("stream", out var stream) && stream.GetBoolean())
            {
                http.Response.ContentType = "text/event-stream";
                foreach (var piece in new[] { "Generated: ", "80 degrees ", "[1]." })
                    await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(new { choices = new[] { new { index = 0, delta = new { content = piece } } } })}\n\n");
                await http.Response.WriteAsync("data: [DONE]\n\n");
                return;
            }
            await http.Response.WriteAsJsonAsync(new { id = "x", @object = "chat.completion", created = 0, model = "test",
                choices = new[] { new { index = 0, finish_reason = "stop", message = new { role = "assistant", content = "Generated: 80 degrees [1]." } } } });
        });
        _app.StartAsync().GetAwaiter().GetResult();
        Url = _app.Urls.First() + "/v1";
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>The API with an LLM configured: a fast breaker so the fallback shows within a test.</summary>
public sealed class LlmApiProcess : ApiProcess
{
    public static readonly FakeLlmServer Llm = new();
    protected override string[] ExtraArgs => ["--Llm:Endpoint", Llm.Url, "--Llm:Model", "test", "--Llm:TimeoutSeconds", "5", "--Llm:MaxRetries", "1"];
}

public sealed class LlmApiTests(LlmApiProcess api) : IClassFixture<LlmApiProcess>
{
    [Fact]
    public async Task Ask_generates_through_the_llm_streams_it_and_falls_back_to_extractive_when_it_fails()
    {
        var http = api.Http;
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsJsonAsync("v1/collections/docs/documents", new { id = "tea", text = "Green tea is brewed at about 80 degrees Celsius." })).StatusCode);
        for (var i = 0; i < 100 && (await http.GetFromJsonAsync<JsonElement>("v1/collections/docs/documents/tea")).GetProperty("status").GetString() != "indexed"; i++) await Task.Delay(100);

        var ask = await (await http.PostAsJsonAsync("v1/collections/docs/ask", new { question = "How hot is green tea brewed?" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("generated", ask.GetProperty("mode").GetString());
        Assert.Equal("Generated: 80 degrees [1].", ask.GetProperty("answer").GetString());
        Assert.Equal("tea", ask.GetProperty("citations")[0].GetProperty("documentId").GetString());

        var sse = await (await http.PostAsJsonAsync("v1/collections/docs/ask", new { question = "How hot is green tea brewed, streamed?", stream = true })).Content.ReadAsStringAsync();
        Assert.Contains("Generated: ", sse);
        Assert.Contains("\"mode\":\"generated\"", sse);

        // The LLM fails: the answer is extractive, says why, and still cites the passage.
        LlmApiProcess.Llm.Failing = true;
        var before = LlmApiProcess.Llm.Requests;
        var fallback = await (await http.PostAsJsonAsync("v1/collections/docs/ask", new { question = "Green tea temperature while the LLM is down?" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("extractive-fallback", fallback.GetProperty("mode").GetString());
        Assert.Contains("503", fallback.GetProperty("fallbackReason").GetString());
        Assert.Contains("80 degrees", fallback.GetProperty("answer").GetString());
        Assert.Equal(2, LlmApiProcess.Llm.Requests - before); // the standard pipeline retried once
        LlmApiProcess.Llm.Failing = false;
    }

    // Issue 75, item 2: with an LLM a follow-up is condensed into a standalone question first, and that is what is searched.
    [Fact]
    public async Task A_follow_up_is_condensed_by_the_llm_into_the_question_searched()
    {
        var http = api.Http;
        await api.CreateCollection("chat");
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsJsonAsync("v1/collections/chat/documents", new { id = "tea", text = "Green tea is brewed at about 80 degrees Celsius." })).StatusCode);
        await Poll.UntilAsync(async () => (await http.GetFromJsonAsync<JsonElement>("v1/collections/chat/documents/tea")).GetProperty("status").GetString() == "indexed");
        var ask = await (await http.PostAsJsonAsync("v1/collections/chat/ask", new
        {
            question = "And black tea?", history = new[] { new { question = "How hot is green tea brewed?", answer = "At about 80 degrees." } },
        })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["Generated: 80 degrees [1]."], ask.GetProperty("searchedAs").EnumerateArray().Select(e => e.GetString())); // the fake LLM's rewrite
        Assert.Contains(LlmApiProcess.Llm.UserTexts, t => t.Contains("User: How hot is green tea brewed?\nAssistant: At about 80 degrees.") && t.Contains("Last question: And black tea?"));
        Assert.Equal("generated", ask.GetProperty("mode").GetString());
    }
}
