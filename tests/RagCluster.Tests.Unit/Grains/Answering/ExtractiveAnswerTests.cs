using RagCluster.Grains.Answering;
using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Tests.Rag;

/// <summary>Which sentences an extractive answer may quote, and how it puts the chosen ones together (issue 75, item 1).</summary>
[Trait("Category", "Unit")]
public sealed class ExtractiveAnswerTests
{
    private const string Document = "Brewing Green Tea\n\nGreen tea is brewed at 80 degrees, e.g. with a thermometer. Boiling water burns the leaves.\nSee also\nBlack tea needs four minutes.";

    // Two overlapping chunks of one document, as the chunker cuts a long paragraph, and one chunk of another.
    private static SearchHit[] Hits()
    {
        var second = Document.IndexOf("Boiling", StringComparison.Ordinal);
        return
        [
            new("tea", "tea#0", 0, 0, Document.Length, Document, ["Brewing Green Tea"], 0.9),
            new("tea", "tea#1", 1, second, Document.Length, Document[second..], ["Brewing Green Tea"], 0.8),
            new("coffee", "coffee#0", 0, 100, 140, "Espresso is brewed under nine bars.", [], 0.5),
        ];
    }

    [Fact]
    public void Candidates_leave_out_titles_labels_and_a_sentence_already_taken_from_an_overlapping_chunk()
    {
        var candidates = CandidateSentences.Of(Hits());
        Assert.Equal(
            ["Green tea is brewed at 80 degrees, e.g. with a thermometer.", "Boiling water burns the leaves.", "Black tea needs four minutes.", "Espresso is brewed under nine bars."],
            candidates.Select(c => c.Text));
        Assert.Equal([0, 0, 0, 2], candidates.Select(c => c.Hit)); // the overlap's repeats are the first chunk's
        Assert.All(candidates, c => Assert.Equal(c.Text, Hits()[c.Hit].Text[c.Start..c.End]));
    }

    [Fact]
    public void An_answer_quotes_the_best_sentences_within_the_margin_in_reading_order_with_offsets_into_the_document()
    {
        var hits = Hits();
        var c = CandidateSentences.Of(hits);
        ScoredSentence S(int i, double score) => new(c[i], score);
        // The best is the tea's second sentence; its first is within the margin a sentence of the same document gets;
        // coffee's is within the plain margin; black tea's is below both.
        var (answer, passages) = ExtractiveAnswerer.Answer(hits, [S(0, 0.62), S(1, 0.70), S(2, 0.40), S(3, 0.61)], 3);
        Assert.Equal("Green tea is brewed at 80 degrees, e.g. with a thermometer. [1] Boiling water burns the leaves. [2] Espresso is brewed under nine bars. [3]", answer.Text);
        Assert.Equal([0, 2], passages);
        Assert.Equal(["tea", "tea", "coffee"], answer.Citations.Select(x => x.DocumentId));
        foreach (var cite in answer.Citations.Take(2)) Assert.Equal(cite.Quote, Document[cite.Start..cite.End]);
        Assert.Equal(100, answer.Citations[2].Start); // the coffee chunk starts at 100 in its document

        // At most the sentences asked for; a sentence past both margins is never quoted.
        Assert.Single(ExtractiveAnswerer.Answer(hits, [S(0, 0.62), S(1, 0.70), S(3, 0.61)], 1).Answer.Citations);
        Assert.Single(ExtractiveAnswerer.Answer(hits, [S(0, 0.2), S(1, 0.70), S(3, 0.3)], 3).Answer.Citations);
        // Within the same document's margin but below the candidates' mean: an off-topic sentence of the right passage.
        Assert.DoesNotContain(ExtractiveAnswerer.Answer(hits, [S(0, 0.55), S(1, 0.70), S(2, 0.69), S(3, 0.68)], 3).Answer.Citations, x => x.Quote == c[0].Text);
        Assert.Equal(ExtractiveAnswerer.NothingFound, ExtractiveAnswerer.Answer([], [], 3).Answer.Text);
        // Hits but no sentence to quote (a chunk of headings and labels): the best passage itself is cited.
        var bare = ExtractiveAnswerer.Answer([new("toc", "toc#0", 0, 10, 24, "Contents\nIndex", ["Contents"], 0.4)], [], 3).Answer;
        Assert.Equal(("toc", 10, 24), (bare.Citations.Single().DocumentId, bare.Citations[0].Start, bare.Citations[0].End));
    }
}
