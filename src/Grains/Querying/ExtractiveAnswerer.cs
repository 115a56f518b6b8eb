using System.Text.RegularExpressions;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Lexical;

namespace RagCluster.Grains.Querying;

public sealed record Citation(int Number, string DocumentId, string ChunkId, int Start, int End, double Score, string Quote);

public sealed record Answer(string Text, Citation[] Citations);

/// <summary>
/// The offline answer: the sentences of the retrieved chunks that share the most (idf-weighted) terms with the
/// question, in retrieval order, each followed by its citation marker [n]. Nothing is generated, so nothing
/// can be made up; offsets point into the document's extracted text.
/// </summary>
public static partial class ExtractiveAnswerer
{
    public static Answer Answer(string question, IReadOnlyList<SearchHit> hits, int maxSentences = 3)
    {
        if (hits.Count == 0) return new Answer("No passage in this collection matches the question.", []);
        var q = TextAnalyzer.Terms(question).ToHashSet();
        var df = new Dictionary<string, int>();
        var sentences = new List<(int Hit, int Start, int End, string Text, HashSet<string> Terms)>();
        for (var h = 0; h < hits.Count; h++)
        {
            foreach (Match m in SentenceRegex().Matches(hits[h].Text))
            {
                var terms = TextAnalyzer.Terms(m.Value).ToHashSet();
                foreach (var t in terms) df[t] = df.GetValueOrDefault(t) + 1;
                sentences.Add((h, m.Index, m.Index + m.Length, m.Value.Trim(), terms));
            }
        }
        var n = Math.Max(1, sentences.Count);
        var scored = sentences.Select((s, i) => (s, i, Score: s.Terms.Where(q.Contains).Sum(t => Math.Log(1 + n / (double)df[t])) / (1 + 0.15 * s.Hit)))
            .Where(x => x.Score > 0).OrderByDescending(x => x.Score).ToList();
        // Keep sentences at least half as relevant as the best one: a shared common word alone is not an answer.
        if (scored.Count > 0) scored = scored.Where(x => x.Score >= scored[0].Score * 0.5).Take(maxSentences).OrderBy(x => x.i).ToList();
        if (scored.Count == 0) scored = [(sentences[0], 0, 0)];

        var citations = new List<Citation>();
        var parts = new List<string>();
        foreach (var (s, _, _) in scored)
        {
            var hit = hits[s.Hit];
            var c = citations.FirstOrDefault(x => x.ChunkId == hit.ChunkId && x.Start == hit.Start + s.Start);
            if (c is null)
            {
                c = new Citation(citations.Count + 1, hit.DocumentId, hit.ChunkId, hit.Start + s.Start, hit.Start + s.End, hit.Score, s.Text);
                citations.Add(c);
            }
            parts.Add($"{s.Text} [{c.Number}]");
        }
        return new Answer(string.Join(" ", parts), citations.ToArray());
    }

    [GeneratedRegex(@"[^.!?\n]+(?:[.!?]+|$)", RegexOptions.Multiline)]
    private static partial Regex SentenceRegex();
}
