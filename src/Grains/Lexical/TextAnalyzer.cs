using System.Globalization;
using System.Text;

namespace RagCluster.Grains.Lexical;

/// <summary>
/// Terms for BM25: accent-folded lower-case letter/digit runs, English stop words dropped, and a light
/// plural stemmer (Harman's S-stemmer) so "proteins" matches "protein" without Porter's over-stemming.
/// </summary>
public static class TextAnalyzer
{
    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
        "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
        "will", "with", "what", "which", "who", "how", "does", "do", "did", "has", "have", "had", "were", "been",
        "from", "its", "than", "can", "i", "you", "we", "he", "she", "his", "her", "our", "your", "my",
    };

    public static List<string> Terms(string text)
    {
        var terms = new List<string>();
        var sb = new StringBuilder();
        foreach (var ch in Fold(text))
        {
            if (char.IsLetterOrDigit(ch)) { sb.Append(ch); continue; }
            Flush();
        }
        Flush();
        return terms;

        void Flush()
        {
            if (sb.Length == 0) return;
            var w = sb.ToString();
            sb.Clear();
            if (w.Length > 64 || StopWords.Contains(w)) return;
            terms.Add(Stem(w));
        }
    }

    private static string Fold(string text)
    {
        var d = text.Normalize(NormalizationForm.FormD);
        var sb = new StringBuilder(d.Length);
        foreach (var c in d)
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark) sb.Append(char.ToLowerInvariant(c));
        return sb.ToString();
    }

    // Ordinal suffixes: string.EndsWith(string) compares by the current culture, and showed in a restart's profile
    // (issue 60: a reload rebuilds BM25 from every chunk's text); terms are folded to lower case already.
    public static string Stem(string w)
    {
        if (w.Length <= 3 || !char.IsLetter(w[^1])) return w;
        var s = w.AsSpan();
        if (s.EndsWith("ies") && !s.EndsWith("eies") && !s.EndsWith("aies")) return w[..^3] + "y";
        if (s.EndsWith("es") && !s.EndsWith("aes") && !s.EndsWith("ees") && !s.EndsWith("oes")) return w[..^1];
        if (w.EndsWith('s') && !s.EndsWith("us") && !s.EndsWith("ss")) return w[..^1];
        return w;
    }
}
