using System.Text.Json;

namespace RagCluster.Grains.Embedding;

/// <summary>
/// What a sentence-transformers model folder (as Hugging Face publishes one) says about its own use: pooling in
/// 1_Pooling/config.json, window in sentence_bert_config.json, query prompt in config_sentence_transformers.json.
/// A folder with these files embeds as its model card says without Embedding:Pooling, MaxTokens or QueryPrefix; each is
/// null where the folder does not say.
/// </summary>
public sealed record ModelFolderSettings(string? Pooling, int? MaxTokens, string? QueryPrefix)
{
    public static readonly ModelFolderSettings None = new(null, null, null);

    public static ModelFolderSettings Read(string directory)
    {
        string? pooling = null, queryPrefix = null;
        int? maxTokens = null;
        if (Json(directory, "1_Pooling/config.json") is { } poolingConfig)
            pooling = Flag(poolingConfig, "pooling_mode_cls_token") ? "cls" : Flag(poolingConfig, "pooling_mode_mean_tokens") ? "mean" : null;
        if (Json(directory, "sentence_bert_config.json") is { } bertConfig
            && bertConfig.TryGetProperty("max_seq_length", out var max) && max.ValueKind == JsonValueKind.Number)
            maxTokens = max.GetInt32();
        if (Json(directory, "config_sentence_transformers.json") is { } stConfig
            && stConfig.TryGetProperty("prompts", out var prompts) && prompts.ValueKind == JsonValueKind.Object
            && prompts.TryGetProperty("query", out var query) && query.ValueKind == JsonValueKind.String)
            queryPrefix = query.GetString();
        return new(pooling, maxTokens, queryPrefix);
    }

    private static bool Flag(JsonElement config, string name) =>
        config.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static JsonElement? Json(string directory, string file)
    {
        var path = Path.Combine(directory, file);
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : throw new InvalidDataException($"{path} is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON ({e.Message.Split('.')[0]})");
        }
    }
}
