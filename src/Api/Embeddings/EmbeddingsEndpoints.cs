using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using RagCluster.Api.Auth;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Embedding;

namespace RagCluster.Api.Embeddings;

/// <summary>
/// <c>POST /v1/embeddings</c> in OpenAI's shape, so tools that speak it (OpenAI SDKs, Microsoft.Extensions.AI, LangChain)
/// embed with the cluster's model and its embedding silos, GPU ones included. Texts are embedded as passages, through
/// the same batcher and silo choice as ingest, so a text's vector is the one the cluster stores for it.
/// Reader role: it reads and stores nothing, a search with a reader key already embeds a query, and the rate limit
/// bounds what a key spends.
/// </summary>
public static class EmbeddingsEndpoints
{
    public static void MapEmbeddingsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/embeddings", CreateEmbeddings).RequireAuthorization(AuthSetup.Reader).Reads<EmbeddingsRequest>("application/json").ProducesProblem(400).ProducesProblem(503);
    }

    [EndpointName("CreateEmbeddings"), EndpointSummary("Embed texts with the cluster's model, in OpenAI's request and response shape"), Tags("Embeddings")]
    private static async Task<Results<Ok<EmbeddingsResponse>, ProblemHttpResult>> CreateEmbeddings(HttpRequest request, IGrainFactory grains, IOptions<EmbeddingsOptions> options, CancellationToken ct)
    {
        var (body, error) = await RagEndpoints.ReadJson<EmbeddingsRequest>(request);
        if (error is not null) return error;
        var (inputs, bad) = Inputs(body!.Input, options.Value.MaxInputs);
        if (bad is not null) return bad;
        if (body.EncodingFormat is not (null or "float" or "base64"))
            return Invalid($"encoding_format must be float or base64, not '{body.EncodingFormat}'");
        var embedded = await grains.GetGrain<ITextEmbeddingGrain>("texts").Embed(new TextsToEmbed(inputs!, body.Model, body.Dimensions), ct);
        var base64 = body.EncodingFormat == "base64";
        var data = embedded.Vectors.Select((v, i) => new EmbeddingItem("embedding", i, base64 ? Convert.ToBase64String(MemoryMarshal.AsBytes(v.AsSpan())) : v)).ToArray();
        return TypedResults.Ok(new EmbeddingsResponse("list", data, embedded.Model, new EmbeddingsUsage(embedded.Tokens, embedded.Tokens)));
    }

    /// <summary>The texts of "input": a string, or an array of 1..<paramref name="max"/> strings; else why not, as a 400.</summary>
    private static (string[]? Inputs, ProblemHttpResult? Problem) Inputs(JsonElement input, int max)
    {
        switch (input.ValueKind)
        {
            case JsonValueKind.String:
                return ([input.GetString()!], null);
            case JsonValueKind.Array:
                var items = input.EnumerateArray().ToList();
                if (items.Count == 0) return (null, Invalid("input is an empty array: give at least one text"));
                if (items.Count > max) return (null, Invalid($"input has {items.Count} texts; at most {max} a request (Embeddings:MaxInputs)"));
                if (items.All(e => e.ValueKind == JsonValueKind.Number) || items.All(e => e.ValueKind == JsonValueKind.Array))
                    return (null, Invalid("input as token ids is not taken: send the texts"));
                if (items.FindIndex(e => e.ValueKind != JsonValueKind.String) is var other and >= 0)
                    return (null, Invalid($"input[{other}] is not a string"));
                return ([.. items.Select(e => e.GetString()!)], null);
            default:
                return (null, Invalid("input must be a string or an array of strings"));
        }
    }

    private static ProblemHttpResult Invalid(string detail) => RagEndpoints.Problem(400, "Invalid embeddings request", detail);
}
