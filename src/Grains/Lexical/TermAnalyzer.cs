namespace RagCluster.Grains.Lexical;

/// <summary>How a collection's text becomes BM25 terms, for the chunks and for the queries alike: by its language.</summary>
public sealed class TermAnalyzer(string language, Func<string, List<string>> terms)
{
    /// <summary>The default: <see cref="TextAnalyzer"/> (folded, English stop words, a light plural stemmer).</summary>
    public static readonly TermAnalyzer English = new("english", TextAnalyzer.Terms);

    public string Language { get; } = language;

    public List<string> Terms(string text) => terms(text);
}
