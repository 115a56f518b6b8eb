using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using RagCluster.Api;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Tests.Rag;

/// <summary>
/// What an exception becomes over HTTP: only our own error types say the caller erred (4xx) or should come back later
/// (503); any other exception, a library's ArgumentException or InvalidOperationException included, is a 500 that
/// carries a trace id and none of the exception's message.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ErrorMappingTests
{
    private static async Task<(int Status, JsonElement Body)> Handle(Exception e)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var http = new DefaultHttpContext { RequestServices = services };
        http.Response.Body = new MemoryStream();
        http.Request.Method = "POST";
        http.Request.Path = "/v1/collections/kb/search";
        var handler = new GrainExceptionHandler(services.GetRequiredService<IProblemDetailsService>(), NullLogger<GrainExceptionHandler>.Instance);
        Assert.True(await handler.TryHandleAsync(http, e, CancellationToken.None));
        http.Response.Body.Position = 0;
        return (http.Response.StatusCode, await JsonSerializer.DeserializeAsync<JsonElement>(http.Response.Body));
    }

    [Theory]
    [InlineData("argument")]
    [InlineData("argument-out-of-range")]
    [InlineData("invalid-operation")]
    [InlineData("key-not-found")]
    [InlineData("format")]
    [InlineData("invalid-data")]
    public async Task A_library_exception_is_a_500_with_a_trace_id_and_no_internal_message(string kind)
    {
        const string secret = "connection string Host=db;Password=hunter2";
        Exception e = kind switch
        {
            "argument" => new ArgumentException(secret),
            "argument-out-of-range" => new ArgumentOutOfRangeException("index", secret),
            "invalid-operation" => new InvalidOperationException(secret),
            "key-not-found" => new KeyNotFoundException(secret),
            "format" => new FormatException(secret),
            _ => new InvalidDataException(secret),
        };
        var (status, body) = await Handle(e);
        Assert.Equal(500, status);
        Assert.DoesNotContain("hunter2", body.GetRawText());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("traceId").GetString()));
    }

    [Fact]
    public async Task Our_own_types_keep_their_status_and_message()
    {
        Assert.Equal((400, "topK must be 1..100"), Short(await Handle(new InvalidRequestException("topK must be 1..100"))));
        Assert.Equal((409, "the collection already exists"), Short(await Handle(new ConflictException("the collection already exists"))));
        Assert.Equal((404, "no key k1"), Short(await Handle(new NotFoundException("no key k1"))));
        Assert.Equal(503, (await Handle(new StorageUnavailableException("storage unavailable during a read"))).Status);
        Assert.Equal(503, (await Handle(new RagCluster.Grains.Interfaces.Errors.EmbeddingUnavailableException("no model"))).Status);
        // A silo that cannot be reached: a retriable 503 whose detail is the message's first line, not the stack Orleans appends.
        var unreachable = new Orleans.Runtime.SiloUnavailableException(
            "Exception while sending message: Unable to connect to S127.0.0.1:34947:154811303, will retry after 4ms\n   at Orleans.Runtime.Messaging.ConnectionManager.GetConnectionAsync(SiloAddress endpoint)");
        Assert.Equal((503, "Exception while sending message: Unable to connect to S127.0.0.1:34947:154811303, will retry after 4ms"), Short(await Handle(unreachable)));
    }

    private static (int, string?) Short((int Status, JsonElement Body) r) => (r.Status, r.Body.GetProperty("detail").GetString());
}
