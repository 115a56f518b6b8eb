using RagCluster.Grains.Embedding;

namespace RagCluster.Tests.Rag;

/// <summary>A sentence-transformers model folder's own files set pooling, window and query prompt; settings still win.</summary>
[Trait("Category", "Unit")]
public sealed class ModelFolderSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("model-folder-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Write(string file, string json)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(_dir, file))!);
        File.WriteAllText(Path.Combine(_dir, file), json);
    }

    [Fact]
    public void A_folder_without_the_files_gets_mean_pooling_256_tokens_and_no_prefix()
    {
        var resolved = new EmbeddingOptions { ModelDirectory = _dir }.Resolved();
        Assert.Equal(("mean", 256, ""), (resolved.Pooling, resolved.MaxTokens, resolved.QueryPrefix));
    }

    [Fact]
    public void The_folder_s_files_set_pooling_window_and_query_prompt_unless_settings_do()
    {
        Write("1_Pooling/config.json", """{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}""");
        Write("sentence_bert_config.json", """{"max_seq_length": 512, "do_lower_case": false}""");
        Write("config_sentence_transformers.json", """{"prompts": {"query": "Represent this sentence for searching relevant passages: ", "document": ""}}""");
        var resolved = new EmbeddingOptions { ModelDirectory = _dir }.Resolved();
        Assert.Equal(("cls", 512, "Represent this sentence for searching relevant passages: "), (resolved.Pooling, resolved.MaxTokens, resolved.QueryPrefix));

        var overridden = new EmbeddingOptions { ModelDirectory = _dir, Pooling = "mean", MaxTokens = 128, QueryPrefix = "" }.Resolved();
        Assert.Equal(("mean", 128, ""), (overridden.Pooling, overridden.MaxTokens, overridden.QueryPrefix));
        // A built-in model ignores the folder: ModelDirectory is empty.
        Assert.Equal("mean", new EmbeddingOptions { Model = "minilm" }.Resolved().Pooling);
    }

    [Fact]
    public void A_broken_file_is_refused_in_one_line_naming_it()
    {
        Write("1_Pooling/config.json", "{ not json");
        var e = Assert.Throws<InvalidDataException>(() => new EmbeddingOptions { ModelDirectory = _dir }.Resolved());
        Assert.Contains("1_Pooling/config.json is not valid JSON", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
