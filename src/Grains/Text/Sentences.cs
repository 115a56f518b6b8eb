namespace RagCluster.Grains.Text;

/// <summary>
/// Sentence spans, by hand: .NET has no sentence segmenter, and Lucene.Net's needs ICU, which is not served here.
/// A sentence ends at . ! ? followed by whitespace, or at a line break; spans are trimmed of whitespace.
/// </summary>
public static class Sentences
{
    /// <summary>The sentences inside [start, end) of <paramref name="text"/>, as (start, end) pairs, in order.</summary>
    public static IEnumerable<(int Start, int End)> Spans(string text, int start, int end)
    {
        var s = start;
        while (s < end && char.IsWhiteSpace(text[s])) s++;
        for (var i = s; i < end; i++)
        {
            var c = text[i];
            var boundary = c == '\n' || (c is '.' or '!' or '?' && i + 1 < end && char.IsWhiteSpace(text[i + 1]));
            if (!boundary) continue;
            var e = i + 1;
            var trimmed = e;
            while (trimmed > s && char.IsWhiteSpace(text[trimmed - 1])) trimmed--;
            if (trimmed > s) yield return (s, trimmed);
            s = e;
            while (s < end && char.IsWhiteSpace(text[s])) s++;
            i = s - 1;
        }
        var last = end;
        while (last > s && char.IsWhiteSpace(text[last - 1])) last--;
        if (last > s) yield return (s, last);
    }
}
