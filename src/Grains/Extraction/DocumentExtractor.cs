using RagCluster.Grains.Interfaces.Documents;
using System.Text;
using System.Text.Json;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using DocumentFormat.OpenXml.Packaging;
using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;
using UglyToad.PdfPig.DocumentLayoutAnalysis.PageSegmenter;
using UglyToad.PdfPig.DocumentLayoutAnalysis.ReadingOrderDetector;
using UglyToad.PdfPig.DocumentLayoutAnalysis.WordExtractor;

namespace RagCluster.Grains.Extraction;

/// <summary>The document cannot be turned into text; the message is shown to the user as is.</summary>
public sealed class ExtractionException(string message, bool unsupported = false) : Exception(message)
{
    /// <summary>True when the format (or the tool it needs) is not available, rather than the file being bad.</summary>
    public bool Unsupported { get; } = unsupported;
}

/// <summary>Turns an uploaded file into plain text with structure (headings, paragraphs), by format.</summary>
public static class DocumentExtractor
{
    public static ExtractedText Extract(string format, byte[] content) => format switch
    {
        "txt" => FromPlainText(DecodeText(content)),
        "md" => FromMarkdown(DecodeText(content)),
        "html" => FromHtml(DecodeText(content)),
        "json" => FromJson(content),
        "docx" => FromDocx(content),
        "pdf" => FromPdf(content),
        _ => throw new ExtractionException($"unsupported format '{format}'; supported: {string.Join(", ", DocumentFormats.Supported)}", unsupported: true),
    };

    public static ExtractedText FromPlainText(string text)
    {
        var b = new ExtractedTextBuilder();
        b.PlainText(text);
        return b.Build();
    }

    private static string DecodeText(byte[] content)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(content).TrimStart('\uFEFF');
        }
        catch (DecoderFallbackException)
        {
            throw new ExtractionException("text is not valid UTF-8");
        }
    }

    public static ExtractedText FromMarkdown(string markdown)
    {
        var pipeline = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();
        var doc = Markdown.Parse(markdown, pipeline);
        var b = new ExtractedTextBuilder();
        foreach (var block in doc.Descendants<LeafBlock>())
        {
            switch (block)
            {
                case HeadingBlock h: b.Heading(h.Level, InlineText(h.Inline)); break;
                case CodeBlock code: b.Paragraph(string.Join('\n', code.Lines.Lines.Take(code.Lines.Count).Select(l => l.ToString())), preserveLines: true); break;
                case ParagraphBlock p: b.Paragraph(InlineText(p.Inline)); break;
            }
        }
        return b.Build();
    }

    private static string InlineText(ContainerInline? inline)
    {
        if (inline is null) return "";
        var sb = new StringBuilder();
        foreach (var node in inline.Descendants())
        {
            switch (node)
            {
                case LiteralInline lit: sb.Append(lit.Content.ToString()); break;
                case CodeInline code: sb.Append(code.Content); break;
                case LineBreakInline: sb.Append(' '); break;
                case AutolinkInline auto: sb.Append(auto.Url); break;
            }
        }
        return sb.ToString();
    }

    // Boilerplate: navigation, chrome and non-content elements are dropped before reading text.
    private static readonly string[] Boilerplate =
        ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "iframe", "svg", "button", "menu"];

    public static ExtractedText FromHtml(string html)
    {
        var document = new HtmlParser().ParseDocument(html);
        foreach (var el in document.QuerySelectorAll(string.Join(',', Boilerplate)).ToList()) el.Remove();
        foreach (var el in document.QuerySelectorAll("[role=navigation],[role=banner],[role=contentinfo],[aria-hidden=true]").ToList()) el.Remove();
        var root = (IElement?)document.QuerySelector("main") ?? document.QuerySelector("article") ?? document.Body ?? document.DocumentElement;
        var b = new ExtractedTextBuilder();
        var inline = new StringBuilder();
        Walk(root, b, inline);
        Flush(b, inline);
        var title = document.Title?.Trim();
        return b.Build(string.IsNullOrEmpty(title) ? null : title);
    }

    private static readonly HashSet<string> BlockTags = new(StringComparer.OrdinalIgnoreCase)
    {
        "p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "td", "th", "blockquote", "pre",
        "dd", "dt", "dl", "figure", "figcaption", "br", "hr", "body", "html",
    };

    private static void Walk(INode node, ExtractedTextBuilder b, StringBuilder inline)
    {
        foreach (var child in node.ChildNodes)
        {
            if (child is IText text) { inline.Append(text.Data); continue; }
            if (child is not IElement el) continue;
            var tag = el.LocalName;
            if (tag.Length == 2 && tag[0] == 'h' && tag[1] is >= '1' and <= '6')
            {
                Flush(b, inline);
                b.Heading(tag[1] - '0', el.TextContent);
                continue;
            }
            if (tag == "pre")
            {
                Flush(b, inline);
                b.Paragraph(el.TextContent, preserveLines: true);
                continue;
            }
            var isBlock = BlockTags.Contains(tag);
            if (isBlock) Flush(b, inline);
            Walk(el, b, inline);
            if (isBlock) Flush(b, inline);
            else inline.Append(' ');
        }
    }

    private static void Flush(ExtractedTextBuilder b, StringBuilder inline)
    {
        if (inline.Length == 0) return;
        b.Paragraph(inline.ToString());
        inline.Clear();
    }

    /// <summary>
    /// JSON: a {"title","text"|"body"|"content"} object reads as a document; anything else becomes one
    /// paragraph per string value, prefixed with its key path so fields stay searchable.
    /// </summary>
    public static ExtractedText FromJson(byte[] content)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(content, new JsonDocumentOptions { MaxDepth = 64, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ExtractionException($"invalid JSON: {e.Message}");
        }
        using (doc)
        {
            var b = new ExtractedTextBuilder();
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && FindString(root, "text", "body", "content") is { } body)
            {
                if (FindString(root, "title", "name") is { } title) b.Heading(1, title);
                b.PlainText(body);
                return b.Build();
            }
            Flatten(root, "", b);
            return b.Build();
        }
    }

    private static string? FindString(JsonElement obj, params string[] names)
    {
        foreach (var name in names)
            if (obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(v.GetString()))
                return v.GetString();
        return null;
    }

    private static void Flatten(JsonElement e, string path, ExtractedTextBuilder b)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject()) Flatten(p.Value, path.Length == 0 ? p.Name : $"{path}.{p.Name}", b);
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in e.EnumerateArray()) Flatten(item, $"{path}[{i++}]", b);
                break;
            case JsonValueKind.String:
                var s = e.GetString();
                if (!string.IsNullOrWhiteSpace(s)) b.Paragraph(path.Length == 0 ? s : $"{path}: {s}");
                break;
            case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                if (path.Length > 0) b.Paragraph($"{path}: {e.GetRawText()}");
                break;
        }
    }

    public static ExtractedText FromDocx(byte[] content)
    {
        try
        {
            ZipBounds.Check(content, "docx");
            using var stream = new MemoryStream(content, writable: false);
            using var word = WordprocessingDocument.Open(stream, false);
            var body = word.MainDocumentPart?.Document?.Body ?? throw new ExtractionException("docx has no document body");
            var b = new ExtractedTextBuilder();
            foreach (var p in body.Descendants<DocumentFormat.OpenXml.Wordprocessing.Paragraph>())
            {
                var text = string.Concat(p.Descendants<DocumentFormat.OpenXml.Wordprocessing.Text>().Select(t => t.Text));
                var style = p.ParagraphProperties?.ParagraphStyleId?.Val?.Value ?? "";
                if (style.StartsWith("Heading", StringComparison.OrdinalIgnoreCase) && int.TryParse(style.AsSpan(7), out var level))
                    b.Heading(level, text);
                else if (style.Equals("Title", StringComparison.OrdinalIgnoreCase))
                    b.Heading(1, text);
                else
                    b.Paragraph(text);
            }
            return b.Build(word.PackageProperties.Title);
        }
        catch (Exception e) when (e is not ExtractionException and (IOException or InvalidDataException or System.Xml.XmlException or
                                      DocumentFormat.OpenXml.Packaging.OpenXmlPackageException or FileFormatException or ArgumentException))
        {
            throw new ExtractionException($"not a readable .docx file: {e.Message}");
        }
    }

    /// <summary>
    /// PDF in-process with PdfPig: words are grouped into text blocks (Docstrum) and put in reading order, so each
    /// block becomes a paragraph and a page break always ends one. Lines set clearly larger than the page's body
    /// text are headings, so chunks get heading paths as they do for Markdown. Any failure of the parser on a
    /// malformed file becomes a reason on the document, never a crash.
    /// </summary>
    public static ExtractedText FromPdf(byte[] content)
    {
        var b = new ExtractedTextBuilder();
        try
        {
            using var pdf = UglyToad.PdfPig.PdfDocument.Open(content, new UglyToad.PdfPig.ParsingOptions { UseLenientParsing = true, SkipMissingFonts = true });
            if (pdf.NumberOfPages > MaxPdfPages) throw new ExtractionException($"PDF has {pdf.NumberOfPages} pages; at most {MaxPdfPages} are read");
            foreach (var page in pdf.GetPages())
            {
                var words = page.GetWords(NearestNeighbourWordExtractor.Instance).ToList();
                if (words.Count == 0) continue;
                var body = BodyFontSize(words);
                foreach (var block in UnsupervisedReadingOrderDetector.Instance.Get(DocstrumBoundingBoxes.Instance.GetBlocks(words)))
                {
                    // A block can hold a heading and the paragraph under it: split where the size class changes.
                    var run = new List<string>();
                    var runLevel = 0;
                    foreach (var line in block.TextLines)
                    {
                        var level = HeadingLevel(line.Words, body);
                        if (level != runLevel && run.Count > 0) { EmitPdfRun(b, run, runLevel); run.Clear(); }
                        runLevel = level;
                        run.Add(line.Text);
                    }
                    if (run.Count > 0) EmitPdfRun(b, run, runLevel);
                }
            }
            var title = pdf.Information.Title;
            return b.Build(string.IsNullOrWhiteSpace(title) ? null : title.Trim());
        }
        catch (Exception e) when (e is not (ExtractionException or OutOfMemoryException))
        {
            // PdfPig reports damage with several exception types (format, argument, index, I/O): all are the file's fault.
            throw new ExtractionException($"not a readable PDF: {e.Message.Split('\n')[0].Trim()}");
        }
    }

    /// <summary>The size most letters on the page are set in.</summary>
    private static double BodyFontSize(IEnumerable<UglyToad.PdfPig.Content.Word> words) =>
        words.SelectMany(w => w.Letters).GroupBy(l => Math.Round(l.PointSize, 1)).MaxBy(g => g.Count())?.Key ?? 0;

    /// <summary>0 for body text; 1 for lines at least 1.6× the body size, 2 for at least 1.2×.</summary>
    private static int HeadingLevel(IReadOnlyList<UglyToad.PdfPig.Content.Word> words, double body)
    {
        if (body <= 0) return 0;
        var size = words.SelectMany(w => w.Letters).Select(l => l.PointSize).DefaultIfEmpty(0).Average();
        return size >= 1.6 * body ? 1 : size >= 1.2 * body ? 2 : 0;
    }

    private static void EmitPdfRun(ExtractedTextBuilder b, List<string> lines, int headingLevel)
    {
        var text = string.Join(' ', lines);
        if (headingLevel > 0) b.Heading(headingLevel, text);
        else b.Paragraph(text);
    }

    /// <summary>A bound on work per upload (50 MiB can hold a very long PDF); more pages is refused with a reason.</summary>
    public const int MaxPdfPages = 5000;
}
