using System.Text.Json;
using System.Text.Json.Serialization;

namespace RagCluster.Api.Embeddings;

/// <summary>
/// OpenAI's embeddings request, as Hugging Face TEI, Ollama and vLLM also take it: "input" is a string or an array of
/// strings; "model" names the cluster's model (or is left out); "encoding_format" is float (the default) or base64;
/// "dimensions", when given, must be the model's own.
/// </summary>
public sealed record EmbeddingsRequest(
    JsonElement Input,
    string? Model,
    [property: JsonPropertyName("encoding_format")] string? EncodingFormat,
    int? Dimensions,
    string? User);

/// <summary>
/// One input's vector, at its index in the request: an array of floats, or with encoding_format base64 the float32
/// values little-endian, base64-encoded (a string).
/// </summary>
public sealed record EmbeddingItem(string Object, int Index, object Embedding);

/// <summary>Tokens the inputs took as the model read them ([CLS], pieces, [SEP]).</summary>
public sealed record EmbeddingsUsage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens);

public sealed record EmbeddingsResponse(string Object, EmbeddingItem[] Data, string Model, EmbeddingsUsage Usage);
