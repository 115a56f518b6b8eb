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
using RagCluster.Grains.Lexical;

namespace RagCluster.Tests.Rag;

/// <summary>A collection's language: each analyzer's terms are Lucene.Net's own, English stays ours, and an unknown one is named.</summary>
[Trait("Category", "Unit")]
public sealed class LanguageAnalyzerTests
{
    private const LuceneVersion V = LuceneVersion.LUCENE_48;

    public static TheoryData<string, string> Samples => new()
    {
        { "german", "Die Fußballspiele der Kinder; das Fussballspiel. Krankenhäuser und ein Krankenhaus." },
        { "french", "L'hôpital et les hôpitaux : les élèves étudient l'économie." },
        { "spanish", "Los niños corren por las calles de la ciudad." },
        { "italian", "Le città italiane sono bellissime d'estate." },
        { "portuguese", "As organizações não governamentais publicaram relatórios." },
        { "dutch", "De fietsen staan bij de huizen aan de gracht." },
        { "russian", "Книги лежат в библиотеке университета." },
        { "chinese", "我们在北京大学学习自然语言处理。" },
        { "standard", "Running runs the RUNNER's café, 2024-05-01." },
    };

    // Lucene's analyzer for the language, made here and read token by token as Lucene's own docs show.
    private static Analyzer Lucene(string language) => language switch
    {
        "german" => new GermanAnalyzer(V),
        "french" => new FrenchAnalyzer(V),
        "spanish" => new SpanishAnalyzer(V),
        "italian" => new ItalianAnalyzer(V),
        "portuguese" => new PortugueseAnalyzer(V),
        "dutch" => new DutchAnalyzer(V),
        "russian" => new RussianAnalyzer(V),
        "chinese" => new SmartChineseAnalyzer(V),
        _ => new StandardAnalyzer(V, CharArraySet.Empty),
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public void Each_language_cuts_text_into_the_terms_Lucene_makes(string language, string sample)
    {
        using var analyzer = Lucene(language);
        var expected = new List<string>();
        using (var stream = analyzer.GetTokenStream("body", new StringReader(sample)))
        {
            var term = stream.AddAttribute<ICharTermAttribute>();
            stream.Reset();
            while (stream.IncrementToken()) expected.Add(term.ToString());
            stream.End();
        }
        Assert.NotEmpty(expected);
        Assert.Equal(expected, TermAnalyzers.For(language).Terms(sample));
    }

    [Fact]
    public void Inflected_forms_meet_where_the_language_joins_them_and_English_is_unchanged()
    {
        string[] Terms(string language, string text) => [.. TermAnalyzers.For(language).Terms(text)];
        // German: a compound's plural and its singular with ß spelled ss; French: elision and accents; Chinese: words without spaces.
        Assert.Equal(Terms("german", "Fußballspiele"), Terms("german", "Fussballspiel"));
        Assert.Equal(Terms("german", "Krankenhäuser"), Terms("german", "Krankenhaus"));
        Assert.Equal(Terms("french", "l'hôpital"), Terms("french", "hôpitaux"));
        Assert.Equal(["我们", "在", "北京大学", "学习", "自然", "语言", "处理"], Terms("chinese", "我们在北京大学学习自然语言处理。"));
        Assert.Equal(["running", "runs", "the", "runner's"], Terms("standard", "Running runs the RUNNER's"));
        foreach (var english in new[] { null, "", "english" })
            Assert.Equal(TextAnalyzer.Terms("The proteins of cafés"), TermAnalyzers.For(english).Terms("The proteins of cafés"));
        Assert.Null(TermAnalyzers.Problem("german"));
        Assert.Equal("unknown language 'klingon'; use one of english, german, french, spanish, italian, portuguese, dutch, russian, chinese, standard",
            TermAnalyzers.Problem("klingon"));
        Assert.Throws<InvalidRequestException>(() => TermAnalyzers.For("klingon"));
    }
}
