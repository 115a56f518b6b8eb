using System.Text;

namespace RagCluster.Grains.Text;

/// <summary>Counts model tokens so chunks fit the embedder's window.</summary>
public interface ITokenCounter
{
    int CountTokens(string text);
}

/// <summary>Used when no tokenizer is configured: words and punctuation marks, times 1.3 for sub-word splits.</summary>
public sealed class ApproximateTokenCounter : ITokenCounter
{
    public static readonly ApproximateTokenCounter Instance = new();

    public int CountTokens(string text)
    {
        int words = 0, punct = 0;
        var inWord = false;
        foreach (var r in text.EnumerateRunes())
        {
            if (Rune.IsLetterOrDigit(r)) { if (!inWord) { words++; inWord = true; } }
            else
            {
                inWord = false;
                if (!Rune.IsWhiteSpace(r)) punct++;
            }
        }
        return (int)Math.Ceiling(words * 1.3) + punct;
    }
}

/// <summary>
/// A counter that also hands out the token ids it counted, so the chunker can keep them and the embedder need not
/// tokenise the same text again.
/// </summary>
public interface ITokenizingCounter : ITokenCounter
{
    /// <summary>Word-piece ids without special tokens.</summary>
    List<int> Tokenize(string text);
}

public sealed class WordPieceTokenCounter(WordPieceTokenizer tokenizer) : ITokenizingCounter
{
    public int CountTokens(string text) => tokenizer.CountTokens(text);
    public List<int> Tokenize(string text) => tokenizer.Tokenize(text);
}
