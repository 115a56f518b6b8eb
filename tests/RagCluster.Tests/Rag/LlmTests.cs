using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.Querying;

namespace RagCluster.Tests.Rag;

/// <summary>ChatAnswerer against a fake OpenAI-compatible server on loopback that can answer, stream or fail.</summary>
public sealed class LlmTests : IAsyncLifetime
{
    private WebApplication _server = null!;
    private string _url = "";
    private volatile string _mode = "ok";
    private int _requests;

    private static readonly SearchHit[] Hits =
    [
        new("tea", "tea#0", 0, 0, 48, "Green tea is brewed at about 80 degrees Celsius.", [], 0.9),
        new("coffee", "coffee#0", 0, 0, 40, "Espresso is brewed under nine bars.", [], 0.5),
    ];

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _server = builder.Build();
        _server.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            Interlocked.Increment(ref _requests);
            var body = await JsonDocument.ParseAsync(http.Request.Body);
            Assert.Contains("Green tea is brewed", body.RootElement.GetProperty("messages")[1].GetProperty("content").GetString());
            if (_mode == "fail") { http.Response.StatusCode = 503; return; }
            if (body.RootElement.GetProperty("stream").GetBoolean())
            {
                http.Response.ContentType = "text/event-stream";
                foreach (var piece in new[] { "About ", "80 °C ", "[1]." })
                    await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(new { choices = new[] { new { delta = new { content = piece } } } })}\n\n");
                await http.Response.WriteAsync("data: [DONE]\n\n");
                return;
            }
            await http.Response.WriteAsJsonAsync(new { choices = new[] { new { message = new { role = "assistant", content = "Brew it at about 80 °C [1]." } } } });
        });
        await _server.StartAsync();
        _url = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/v1";
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private ChatAnswerer NewAnswerer() => new(new LlmOptions { Endpoint = _url, Model = "test", TimeoutSeconds = 5, MaxRetries = 1, BreakerBreakSeconds = 60 },
        NullLogger<ChatAnswerer>.Instance);

    [Fact]
    public async Task Generated_answers_cite_only_the_passages_they_use_and_stream()
    {
        var llm = NewAnswerer();
        var (answer, reason) = await llm.AnswerAsync("How hot for green tea?", Hits, CancellationToken.None);
        Assert.Null(reason);
        Assert.Equal("Brew it at about 80 °C [1].", answer!.Text);
        Assert.Equal("tea", Assert.Single(answer.Citations).DocumentId);

        var failure = new ChatAnswerer.StreamFailure();
        var pieces = new List<string>();
        await foreach (var p in llm.StreamAsync("How hot for green tea?", Hits, failure, CancellationToken.None)) pieces.Add(p);
        Assert.Equal(["About ", "80 °C ", "[1]."], pieces);
        Assert.Null(failure.Reason);
    }

    [Fact]
    public async Task Failures_are_retried_then_the_breaker_opens_and_callers_fall_back()
    {
        var llm = NewAnswerer();
        _mode = "fail";
        var (first, reason) = await llm.AnswerAsync("q", Hits, CancellationToken.None);
        Assert.Null(first);
        Assert.Contains("503", reason);
        Assert.Equal(2, _requests); // one retry
        await llm.AnswerAsync("q", Hits, CancellationToken.None); // 4 failed attempts: the breaker's minimum throughput
        var before = _requests;
        var (open, why) = await llm.AnswerAsync("q", Hits, CancellationToken.None);
        Assert.Null(open);
        Assert.Contains("circuit open", why);
        Assert.Equal(before, _requests); // the open breaker did not call the server

        var failure = new ChatAnswerer.StreamFailure();
        await foreach (var _ in llm.StreamAsync("q", Hits, failure, CancellationToken.None)) Assert.Fail("no tokens while open");
        Assert.Contains("circuit open", failure.Reason);

        var unconfigured = new ChatAnswerer(new LlmOptions(), NullLogger<ChatAnswerer>.Instance);
        Assert.False(unconfigured.IsConfigured);
        Assert.Equal("no Llm:Endpoint configured", (await unconfigured.AnswerAsync("q", Hits, CancellationToken.None)).Reason);
    }
}
