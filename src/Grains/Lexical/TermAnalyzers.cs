using Lucene.Net.Analysis;
using Lucene.Net.Analysis.Cn.Smart;
using Lucene.Net.Analysis.De;
using Lucene.Net.Analysis.Es;
using Lucene.Net.Analysis.Fr;
using Lucene.Net.Analysis.It;
using Lucene.Net.Analysis.Nl;
using Lucene.Net.Analysis.Pt;
using Lucene.Net.Analysis.Ru;
using Lucene.Net.Analysis.Standard;
using Lucene.Net.Analysis.TokenAttributes;
using Lucene.Net.Analysis.Util;
using Lucene.Net.Util;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Grains.Lexical;

/// <summary>
/// A collection's "language": which analyzer cuts its text into BM25 terms. English is <see cref="TextAnalyzer"/> (the
/// default, as it always was); the others are Lucene.Net's own analyzers for that language (its tokenizer, stop words
/// and light stemmer), and "standard" is Lucene's StandardAnalyzer with no stop words and no stemming.
/// </summary>
public static class TermAnalyzers
{
    public const string English = "english";
    private const LuceneVersion Version = LuceneVersion.LUCENE_48;

    // One analyzer a language, made on first use (SmartCn's dictionaries are megabytes): Lucene's analyzers keep
    // a token stream per thread, so one instance serves every shard.
    private static readonly Dictionary<string, Lazy<TermAnalyzer>> Known = new(StringComparer.Ordinal)
    {
        [English] = new(() => TermAnalyzer.English),
        ["german"] = Lucene("german", () => new GermanAnalyzer(Version)),
        ["french"] = Lucene("french", () => new FrenchAnalyzer(Version)),
        ["spanish"] = Lucene("spanish", () => new SpanishAnalyzer(Version)),
        ["italian"] = Lucene("italian", () => new ItalianAnalyzer(Version)),
        ["portuguese"] = Lucene("portuguese", () => new PortugueseAnalyzer(Version)),
        ["dutch"] = Lucene("dutch", () => new DutchAnalyzer(Version)),
        ["russian"] = Lucene("russian", () => new RussianAnalyzer(Version)),
        ["chinese"] = Lucene("chinese", () => new SmartChineseAnalyzer(Version)),
        ["standard"] = Lucene("standard", () => new StandardAnalyzer(Version, CharArraySet.Empty)),
    };

    /// <summary>The languages a collection may name, in the order the docs list them.</summary>
    public static IReadOnlyCollection<string> Languages => Known.Keys;

    /// <summary>Why <paramref name="language"/> is not one, or null (null or "" is English).</summary>
    public static string? Problem(string? language) =>
        language is null or "" || Known.ContainsKey(language) ? null
        : $"unknown language '{language}'; use one of {string.Join(", ", Known.Keys)}";

    /// <summary>The analyzer of a collection's language (English for null).</summary>
    public static TermAnalyzer For(string? language) =>
        Known.TryGetValue(language is null or "" ? English : language, out var analyzer) ? analyzer.Value
        : throw new InvalidRequestException(Problem(language)!);

    private static Lazy<TermAnalyzer> Lucene(string language, Func<Analyzer> make) => new(() =>
    {
        var analyzer = make();
        return new TermAnalyzer(language, text => Terms(analyzer, text));
    });

    /// <summary>The terms Lucene's analyzer makes of <paramref name="text"/>, in order (terms past 64 characters dropped, as English drops them).</summary>
    public static List<string> Terms(Analyzer analyzer, string text)
    {
        var terms = new List<string>();
        using var stream = analyzer.GetTokenStream("text", text);
        var term = stream.AddAttribute<ICharTermAttribute>();
        stream.Reset();
        while (stream.IncrementToken())
            if (term.Length <= 64) terms.Add(term.ToString());
        stream.End();
        return terms;
    }
}
