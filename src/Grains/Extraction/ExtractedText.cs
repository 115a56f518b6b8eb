using System.Text;

namespace RagCluster.Grains.Extraction;

/// <summary>A block of the extracted text: a heading or a paragraph-like unit, with the headings above it.</summary>
public sealed record TextBlock(int Start, int Length, IReadOnlyList<string> HeadingPath, bool IsHeading);

/// <summary>Plain text of a document plus its structure; chunk offsets point into <see cref="Text"/>.</summary>
public sealed record ExtractedText(string Text, IReadOnlyList<TextBlock> Blocks, string? Title = null);

/// <summary>Builds an <see cref="ExtractedText"/>: blocks are separated by blank lines, headings keep a path.</summary>
public sealed class ExtractedTextBuilder
{
    private readonly StringBuilder _text = new();
    private readonly List<TextBlock> _blocks = [];
    private readonly List<(int Level, string Title)> _headings = [];
    private string? _title;

    public void Heading(int level, string title)
    {
        title = Collapse(title);
        if (title.Length == 0) return;
        while (_headings.Count > 0 && _headings[^1].Level >= level) _headings.RemoveAt(_headings.Count - 1);
        _headings.Add((level, title));
        _title ??= title;
        Append(title, isHeading: true);
    }

    public void Paragraph(string text, bool preserveLines = false)
    {
        text = preserveLines ? text.Trim('\n', '\r') : Collapse(text);
        if (string.IsNullOrWhiteSpace(text)) return;
        Append(text, isHeading: false);
    }

    /// <summary>Plain text: paragraphs are separated by blank lines; lines of one paragraph are joined.</summary>
    public void PlainText(string text)
    {
        foreach (var para in SplitParagraphs(text)) Paragraph(para);
    }

    public ExtractedText Build(string? title = null) => new(_text.ToString(), _blocks, title ?? _title);

    private void Append(string text, bool isHeading)
    {
        if (_text.Length > 0) _text.Append("\n\n");
        var start = _text.Length;
        _text.Append(text);
        _blocks.Add(new TextBlock(start, text.Length, _headings.Select(h => h.Title).ToArray(), isHeading));
    }

    internal static IEnumerable<string> SplitParagraphs(string text)
    {
        var current = new StringBuilder();
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            if (raw.Trim().Length == 0)
            {
                if (current.Length > 0) { yield return current.ToString(); current.Clear(); }
                continue;
            }
            if (current.Length > 0) current.Append('\n');
            current.Append(raw);
        }
        if (current.Length > 0) yield return current.ToString();
    }

    private static string Collapse(string s)
    {
        var sb = new StringBuilder(s.Length);
        var space = false;
        foreach (var c in s)
        {
            if (char.IsWhiteSpace(c)) { space = sb.Length > 0; continue; }
            if (space) { sb.Append(' '); space = false; }
            sb.Append(c);
        }
        return sb.ToString();
    }
}
