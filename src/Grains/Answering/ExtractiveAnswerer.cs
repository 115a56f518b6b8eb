using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Grains.Answering;

/// <summary>
/// The offline answer: the few sentences of the retrieved passages that answer the question best (<see cref="SentenceRanker"/>),
/// each followed by its citation marker [n]. Nothing is generated, so nothing can be made up; offsets point into
/// the document's extracted text.
/// </summary>
public static class ExtractiveAnswerer
{
    public const string NothingFound = "No passage in this collection matches the question.";
    /// <summary>Sentences an answer quotes at most, unless asked otherwise.</summary>
    public const int DefaultSentences = 3;
    /// <summary>How far below the best sentence's score another may be and still be quoted.</summary>
    public const double Margin = 0.1;
    /// <summary>The further allowance for a sentence of the best sentence's document: an answer reads better from one source.</summary>
    public const double SameDocumentMargin = 0.1;

    /// <summary>The answer and the passages it quotes (indexes into <paramref name="hits"/>), best first.</summary>
    public static (Answer Answer, int[] Passages) Answer(IReadOnlyList<SearchHit> hits, IReadOnlyList<ScoredSentence> scored, int maxSentences)
    {
        if (hits.Count == 0) return (new Answer(NothingFound, []), []);
        if (scored.Count == 0) return (WholePassage(hits[0]), [0]); // no sentence to quote (only headings and labels): the best passage itself
        var ranked = scored.OrderByDescending(s => s.Score).ToList();
        var best = ranked[0].Score;
        var source = hits[ranked[0].Sentence.Hit].DocumentId;
        // Besides the best, a sentence scores above the candidates' mean: an off-topic sentence of the right passage is not quoted.
        var mean = ranked.Average(s => s.Score);
        var picked = ranked.Take(1).Concat(ranked.Skip(1).Where(s => s.Score > mean
            && s.Score >= best - Margin - (hits[s.Sentence.Hit].DocumentId == source ? SameDocumentMargin : 0))).Take(maxSentences).ToList();
        // Readable order: the passages by their best sentence, and within a passage the sentences as the text has them.
        var passages = picked.Select(s => s.Sentence.Hit).Distinct().ToArray();
        var citations = new List<Citation>();
        var parts = new List<string>();
        foreach (var s in picked.OrderBy(s => Array.IndexOf(passages, s.Sentence.Hit)).ThenBy(s => s.Sentence.Start))
        {
            var hit = hits[s.Sentence.Hit];
            var c = new Citation(citations.Count + 1, hit.DocumentId, hit.ChunkId, hit.Start + s.Sentence.Start, hit.Start + s.Sentence.End, s.Score, s.Sentence.Text);
            citations.Add(c);
            parts.Add($"{s.Sentence.Text} [{c.Number}]");
        }
        return (new Answer(string.Join(" ", parts), citations.ToArray()), passages);
    }

    private static Answer WholePassage(SearchHit hit)
    {
        var quote = hit.Text.Length > 300 ? hit.Text[..300] : hit.Text;
        return new Answer($"{quote.Trim()} [1]", [new Citation(1, hit.DocumentId, hit.ChunkId, hit.Start, hit.Start + quote.Length, hit.Score, quote)]);
    }
}
