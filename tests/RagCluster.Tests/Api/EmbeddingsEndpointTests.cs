using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Numerics.Tensors;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// <c>POST /v1/embeddings</c> through Microsoft.Extensions.AI's OpenAI generator, as a tool that speaks OpenAI's API
/// would call it: the vectors are the ones the cluster stores for the same text; bad requests get one-line 400 problems.
/// </summary>
public sealed class EmbeddingsEndpointTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    [Fact]
    public async Task An_OpenAI_embedding_generator_gets_the_vectors_the_cluster_stores_for_the_same_text()
    {
        await api.Client.EnsureCollectionAsync(new("emb"));
        await api.Client.IngestAsync("emb", new DocumentInput("tea") { Text = "Green tea is brewed at about 80 degrees Celsius." });
        await api.Client.IngestAsync("emb", new DocumentInput("ships") { Text = "Container ships carry most of the world's trade across the oceans." });
        Assert.All((await api.Client.SettledAsync("emb", ["tea", "ships"])).Values, s => Assert.Equal("indexed", s.Status));
        var stored = (await api.Client.GetDocumentContentsAsync("emb", ["tea", "ships"], includeVectors: true)).Select(d => d.Chunks.Single()).ToList();

        // The raw call first: the response's shape, and the model's name to give the SDK.
        using var raw = await api.Http.PostAsJsonAsync("v1/embeddings", new { input = stored[0].Text, encoding_format = "base64" });
        Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
        var reply = JsonDocument.Parse(await raw.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("list", reply.GetProperty("object").GetString());
        var model = reply.GetProperty("model").GetString()!;
        var item = reply.GetProperty("data")[0];
        Assert.Equal(("embedding", 0), (item.GetProperty("object").GetString(), item.GetProperty("index").GetInt32()));
        var fromBase64 = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Convert.FromBase64String(item.GetProperty("embedding").GetString()!)).ToArray();
        var usage = reply.GetProperty("usage");
        Assert.True(usage.GetProperty("prompt_tokens").GetInt32() > 2);
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());

        IEmbeddingGenerator<string, Embedding<float>> generator = new OpenAIClient(new ApiKeyCredential(api.AdminKey),
            new OpenAIClientOptions { Endpoint = new Uri(api.Http.BaseAddress!, "v1/") }).GetEmbeddingClient(model).AsIEmbeddingGenerator();
        var generated = await generator.GenerateAsync([stored[0].Text, stored[1].Text]);
        Assert.Equal(2, generated.Count);
        for (var i = 0; i < 2; i++)
        {
            var cosine = TensorPrimitives.CosineSimilarity(generated[i].Vector.Span, stored[i].Vector);
            Assert.True(cosine > 0.99999f, $"text {i}: cosine {cosine} to the stored vector");
        }
        Assert.True(TensorPrimitives.CosineSimilarity(fromBase64, stored[0].Vector) > 0.99999f); // base64 carries the same floats
        Assert.True(TensorPrimitives.CosineSimilarity(generated[0].Vector.Span, generated[1].Vector.Span) < 0.999f); // and different texts differ
        Assert.True(generated.Usage?.InputTokenCount > 4);
    }

    [Theory]
    [InlineData("""{"input": []}""", "input is an empty array")]
    [InlineData("""{"input": 7}""", "input must be a string or an array of strings")]
    [InlineData("""{"input": [[101, 2054]]}""", "input as token ids is not taken")]
    [InlineData("""{"input": ["ok", 3]}""", "input[1] is not a string")]
    [InlineData("""{"input": "x", "model": "text-embedding-3-small"}""", "model 'text-embedding-3-small' is not served here")]
    [InlineData("""{"input": "x", "encoding_format": "int8"}""", "encoding_format must be float or base64")]
    [InlineData("""{"input": "x", "dimensions": 7}""", "dimensions must be")]
    public async Task A_bad_request_gets_a_400_problem_that_says_what_to_change(string body, string detail)
    {
        using var response = await api.Http.PostAsync("v1/embeddings", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(detail, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Past_the_limits_of_inputs_and_tokens_a_request_is_refused_whole()
    {
        var tooMany = Enumerable.Range(0, 257).Select(i => $"text {i}").ToArray();
        using var many = await api.Http.PostAsJsonAsync("v1/embeddings", new { input = tooMany });
        Assert.Equal(HttpStatusCode.BadRequest, many.StatusCode);
        Assert.Contains("input has 257 texts; at most 256", await many.Content.ReadAsStringAsync());

        var tooLong = string.Join(' ', Enumerable.Range(0, 600).Select(i => $"word{i}"));
        using var longOne = await api.Http.PostAsJsonAsync("v1/embeddings", new { input = new[] { "short", tooLong } });
        Assert.Equal(HttpStatusCode.BadRequest, longOne.StatusCode);
        Assert.Matches(@"input\[1\] is \d+ tokens; '[^']+' reads at most \d+ \(split the text\)", await longOne.Content.ReadAsStringAsync());
    }
}
