using System.Net;
using RagCluster.Runtime;
using RagCluster.Runtime.Invocation;
using RagCluster.Runtime.Messaging;
using RagCluster.Tests.Infrastructure;
using RagCluster.TestGrains;

namespace RagCluster.Tests;

/// <summary>Hostile or broken input on the silo endpoint: always an error answer, never a dead silo.</summary>
public sealed class WireTests : IAsyncLifetime
{
    private const int Limit = 64 * 1024;
    private TestCluster _cluster = null!;
    private InProcessSilo _silo = null!;
    private readonly HttpClient _http = new() { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

    public async Task InitializeAsync()
    {
        _cluster = new TestCluster("memory", o => o.MaxMessageBytes = Limit);
        _silo = await _cluster.StartInProcessSiloAsync();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _cluster.DisposeAsync();
    }

    private static byte[] ValidFrame(string type, string key, byte[]? args = null)
    {
        var method = GrainInterface.For(typeof(ICounterGrain)).ById.Values.Single(m => m.Method.Name == nameof(ICounterGrain.Add));
        return new RequestFrame
        {
            Target = new GrainId(type, key), MethodId = method.Id, TimeoutMs = 5000,
            Arguments = args ?? method.WriteArguments([7]),
        }.Encode();
    }

    private async Task<HttpResponseMessage> PostAsync(byte[] body) =>
        await _http.PostAsync(_silo.Address + "/rpc/call", new ByteArrayContent(body));

    private async Task AssertStillServesAsync()
    {
        var client = _cluster.CreateClient(_silo);
        var before = await client.GetGrain<ICounterGrain>("alive").Get();
        Assert.Equal(before + 1, await client.GetGrain<ICounterGrain>("alive").Add(1));
    }

    [Fact]
    public async Task A_valid_frame_sent_by_hand_runs()
    {
        var response = await PostAsync(ValidFrame(typeof(ICounterGrain).FullName!, "by-hand"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var frame = ResponseFrame.Decode(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(ResponseStatus.Ok, frame.Status);
    }

    [Fact]
    public async Task Truncated_frames_are_rejected_with_400_problem_details()
    {
        var frame = ValidFrame(typeof(ICounterGrain).FullName!, "cut");
        for (var length = 0; length < frame.Length; length++)
        {
            var response = await PostAsync(frame[..length]);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Unknown_grain_type_is_an_error_reply_and_a_typed_exception()
    {
        var response = await PostAsync(ValidFrame("No.Such.IGrain", "x"));
        var frame = ResponseFrame.Decode(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(ResponseStatus.Error, frame.Status);
        Assert.IsType<UnknownGrainTypeException>(frame.ToException());
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Arguments_that_do_not_decode_are_an_error_reply()
    {
        var response = await PostAsync(ValidFrame(typeof(ICounterGrain).FullName!, "bad-args", [0xFF, 0xFF, 0xFF]));
        var frame = ResponseFrame.Decode(await response.Content.ReadAsByteArrayAsync());
        Assert.IsType<BadMessageException>(frame.ToException());
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Oversized_messages_are_refused_on_both_sides()
    {
        var raw = await PostAsync(new byte[Limit + 1]);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, raw.StatusCode);

        var client = _cluster.CreateClient(_silo);
        var e = await Assert.ThrowsAsync<BadMessageException>(() => client.GetGrain<IEchoGrain>("big").Echo(new byte[Limit * 2]));
        Assert.Contains("limit", e.Message);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Random_and_mutated_frames_never_produce_a_server_error()
    {
        var random = new Random(1234);
        var valid = ValidFrame(typeof(IEchoGrain).FullName!, "fuzz");
        for (var i = 0; i < 300; i++)
        {
            byte[] body;
            if (i % 2 == 0)
            {
                body = new byte[random.Next(0, 200)];
                random.NextBytes(body);
            }
            else
            {
                body = valid.ToArray();
                for (var flips = random.Next(1, 4); flips > 0; flips--) body[random.Next(body.Length)] = (byte)random.Next(256);
            }
            var response = await PostAsync(body);
            Assert.True((int)response.StatusCode < 500, $"status {(int)response.StatusCode} for input {Convert.ToHexString(body)}");
        }
        await AssertStillServesAsync();
    }
}
