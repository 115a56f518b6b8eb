using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Text;

namespace RagCluster.Grains.Answering;

/// <summary>A sentence of a retrieved passage that an answer may quote: its hit (index into the search's hits) and span in that hit's text.</summary>
public sealed record CandidateSentence(int Hit, int Start, int End, string Text);

/// <summary>
/// The sentences of a search's hits an answer may quote: no titles or headings (a heading is not a sentence of the
/// document's text), no labels (a short line without an end), and each sentence once per document even where chunks
/// overlap and repeat it.
/// </summary>
public static class CandidateSentences
{
    /// <summary>A line without an end of sentence shorter than this many words is a label or a title, not an answer.</summary>
    private const int MinLineWords = 5;

    public static List<CandidateSentence> Of(IReadOnlyList<SearchHit> hits)
    {
        var found = new List<CandidateSentence>();
        var seen = new HashSet<(string, string)>();
        for (var h = 0; h < hits.Count; h++)
        {
            var text = hits[h].Text;
            var headings = hits[h].HeadingPath.Select(p => p.Trim()).ToHashSet(StringComparer.Ordinal);
            foreach (var (start, end) in Joined(text, Sentences.Spans(text, 0, text.Length)))
            {
                var sentence = text[start..end];
                if (headings.Contains(sentence)) continue;
                if (sentence[^1] is not ('.' or '!' or '?' or ':' or ';' or ')' or '"') && Words(sentence) < MinLineWords) continue;
                if (!seen.Add((hits[h].DocumentId, sentence))) continue;
                found.Add(new CandidateSentence(h, start, end, sentence));
            }
        }
        return found;
    }

    // The splitter ends a sentence at every ". "; one whose next sentence starts in lower case ended at an abbreviation
    // ("e.g. the", "vs. placebo"), so the two are one sentence.
    private static IEnumerable<(int, int)> Joined(string text, IEnumerable<(int Start, int End)> spans)
    {
        (int Start, int End)? open = null;
        foreach (var span in spans)
        {
            if (open is { } o && text[o.End - 1] == '.' && text.AsSpan(o.End, span.Start - o.End).IndexOf('\n') < 0 && char.IsLower(text[span.Start]))
            {
                open = (o.Start, span.End);
                continue;
            }
            if (open is { } done) yield return done;
            open = span;
        }
        if (open is { } last) yield return last;
    }

    private static int Words(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
}
