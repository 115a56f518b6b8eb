using System.Text.RegularExpressions;
using RagCluster.Grains.Extraction;
using RagCluster.Grains.Text;

namespace RagCluster.Grains.Chunking;

/// <summary>
/// A chunk before embedding: a contiguous span of the extracted text. <see cref="TokenIds"/> (word pieces, no special
/// tokens) is set when the chunker counted with a tokenizer: units are cut at whitespace, and WordPiece never joins
/// across whitespace, so the ids of the units, concatenated, are the ids of the chunk's text.
/// </summary>
public sealed record ChunkDraft(int Ordinal, int Start, int End, string Text, IReadOnlyList<string> HeadingPath, int TokenCount, int[]? TokenIds = null);

/// <summary>
/// Token-aware chunking. Structure first: a heading always starts a new chunk and paragraphs are kept whole
/// when they fit. Only a paragraph too long for one window is cut, at sentence ends (or, for a run-on
/// sentence, between words), and those cuts carry <see cref="ChunkingOptions.OverlapTokens"/> of context over.
/// </summary>
public sealed partial class Chunker(ChunkingOptions options, ITokenCounter tokens)
{
    private readonly record struct Unit(int Start, int End, int Tokens, bool ParagraphStart, List<int>? Ids);

    public List<ChunkDraft> Chunk(ExtractedText doc)
    {
        var chunks = new List<ChunkDraft>();
        var section = new List<Unit>();
        IReadOnlyList<string> path = [];
        foreach (var block in doc.Blocks)
        {
            if (block.IsHeading)
            {
                Pack(doc.Text, section, path, chunks);
                section.Clear();
                path = block.HeadingPath;
            }
            AddUnits(doc.Text, block, section);
        }
        Pack(doc.Text, section, path, chunks);
        return chunks;
    }

    private void AddUnits(string text, TextBlock block, List<Unit> units)
    {
        var first = true;
        foreach (var (s, e) in Sentences.Spans(text, block.Start, block.Start + block.Length))
        {
            var ids = Ids(text[s..e]);
            var n = ids?.Count ?? tokens.CountTokens(text[s..e]);
            if (n <= options.MaxTokens)
            {
                units.Add(new Unit(s, e, n, first, ids));
                first = false;
                continue;
            }
            // A run-on sentence: cut between words into pieces that fit.
            var pieceStart = s;
            var pieceTokens = 0;
            var pieceIds = ids is null ? null : new List<int>();
            var lastEnd = s;
            foreach (Match w in WordRegex().Matches(text[s..e]))
            {
                var ws = s + w.Index;
                var we = ws + w.Length;
                var wordIds = Ids(w.Value);
                var wt = wordIds?.Count ?? tokens.CountTokens(w.Value);
                if (pieceTokens + wt > options.MaxTokens && pieceTokens > 0)
                {
                    units.Add(new Unit(pieceStart, lastEnd, pieceTokens, first, pieceIds));
                    first = false;
                    pieceStart = ws;
                    pieceTokens = 0;
                    pieceIds = pieceIds is null ? null : new List<int>();
                }
                pieceTokens += Math.Min(wt, options.MaxTokens); // one giant "word" still yields a (truncated) chunk
                pieceIds?.AddRange(wordIds!);
                lastEnd = we;
            }
            if (lastEnd > pieceStart) { units.Add(new Unit(pieceStart, lastEnd, pieceTokens, first, pieceIds)); first = false; }
        }
    }

    private void Pack(string text, List<Unit> units, IReadOnlyList<string> path, List<ChunkDraft> chunks)
    {
        var i = 0;
        while (i < units.Count)
        {
            var first = i;
            var total = 0;
            var j = i;
            while (j < units.Count)
            {
                var u = units[j];
                if (total + u.Tokens > options.MaxTokens && j > first) break;
                // Prefer ending at a paragraph boundary when the next paragraph would not fit and we are half full.
                if (j > first && u.ParagraphStart && total >= options.MaxTokens / 2 && total + ParagraphTokens(units, j) > options.MaxTokens) break;
                total += u.Tokens;
                j++;
            }
            var start = units[first].Start;
            var end = units[j - 1].End;
            int[]? ids = null;
            if (tokens is ITokenizingCounter)
            {
                var all = new List<int>(total);
                for (var k = first; k < j; k++) all.AddRange(units[k].Ids!);
                ids = all.ToArray();
            }
            chunks.Add(new ChunkDraft(chunks.Count, start, end, text[start..end], path, total, ids));
            if (j >= units.Count) break;

            // Cut inside a paragraph: repeat the tail of this chunk (whole units, up to the overlap budget).
            var next = j;
            if (!units[j].ParagraphStart && options.OverlapTokens > 0)
            {
                var carried = 0;
                var k = j - 1;
                while (k > first && carried + units[k].Tokens <= options.OverlapTokens) { carried += units[k].Tokens; k--; }
                next = k + 1;
            }
            i = Math.Max(next, first + 1);
        }
    }

    private List<int>? Ids(string text) => tokens is ITokenizingCounter t ? t.Tokenize(text) : null;

    private static int ParagraphTokens(List<Unit> units, int from)
    {
        var t = units[from].Tokens;
        for (var k = from + 1; k < units.Count && !units[k].ParagraphStart; k++) t += units[k].Tokens;
        return t;
    }

    [GeneratedRegex(@"\S+")]
    private static partial Regex WordRegex();
}
