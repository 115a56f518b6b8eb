using RagCluster.Grains.Interfaces.Documents;
using System.Text;
using RagCluster.Grains.Chunking;
using RagCluster.Grains.Extraction;
using RagCluster.Grains.Text;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

[Trait("Category", "Unit")]
public sealed class ChunkingTests
{
    private static readonly Lazy<WordPieceTokenizer> Tokenizer = new(() => WordPieceTokenizer.FromDirectory(RepoPaths.TokenizerDir));

    [Fact]
    public void Chunks_fit_the_window_keep_offsets_and_heading_paths()
    {
        var md = new StringBuilder("# Guide\n\nIntro paragraph about the guide.\n\n## Install\n\n");
        for (var i = 0; i < 60; i++) md.Append($"Step {i} installs component number {i} with care and checks its signature. ");
        md.Append("\n\nShort closing paragraph.\n\n## Usage\n\nRun the tool.\n");
        var doc = DocumentExtractor.FromMarkdown(md.ToString());
        var counter = new WordPieceTokenCounter(Tokenizer.Value);
        var chunks = new Chunker(new ChunkingOptions { MaxTokens = 64, OverlapTokens = 16 }, counter).Chunk(doc);

        Assert.True(chunks.Count > 5);
        foreach (var c in chunks)
        {
            Assert.Equal(doc.Text[c.Start..c.End], c.Text);
            Assert.True(counter.CountTokens(c.Text) <= 64 + 8, $"chunk {c.Ordinal} has {counter.CountTokens(c.Text)} tokens");
        }
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Ordinal));
        Assert.Equal(["Guide"], chunks[0].HeadingPath);
        Assert.Contains(chunks, c => c.HeadingPath.SequenceEqual(["Guide", "Install"]));
        Assert.Equal(["Guide", "Usage"], chunks[^1].HeadingPath);
        Assert.StartsWith("Usage", chunks[^1].Text); // a heading starts a new chunk
        // Cuts inside the long paragraph overlap: consecutive Install chunks share text.
        var install = chunks.Where(c => c.HeadingPath.Count == 2 && c.HeadingPath[1] == "Install").ToList();
        Assert.Contains(install.Zip(install.Skip(1)), p => p.Second.Start < p.First.End);
        // Every character of the document that is not whitespace is in some chunk.
        var covered = new bool[doc.Text.Length];
        foreach (var c in chunks) for (var i = c.Start; i < c.End; i++) covered[i] = true;
        Assert.All(Enumerable.Range(0, doc.Text.Length).Where(i => !char.IsWhiteSpace(doc.Text[i])), i => Assert.True(covered[i], $"char {i} not covered"));
    }

    [Fact]
    public void The_chunkers_token_ids_are_the_tokenizers_ids_of_each_chunks_text()
    {
        // The embedder takes these ids instead of tokenising the chunk again, so they must be exactly the ids of the
        // text: accents, punctuation, CJK, a URL, a run-on sentence cut between words, a giant word, line breaks.
        var md = new StringBuilder("# Überblick\n\nCafé-Preise (2024): 3,50 €; see https://example.org/a?b=c.\n\n");
        for (var i = 0; i < 40; i++) md.Append($"Clause {i}, with naïve résumé-writing and 東京 tokens, goes on");
        md.Append(" and ends.\n\n").Append(new string('x', 700)).Append(" tail.\nLine two!\n\n## Next\n\nShort.\n");
        var doc = DocumentExtractor.FromMarkdown(md.ToString());
        var chunks = new Chunker(new ChunkingOptions { MaxTokens = 48, OverlapTokens = 8 }, new WordPieceTokenCounter(Tokenizer.Value)).Chunk(doc);
        Assert.True(chunks.Count > 10);
        Assert.All(chunks, c => Assert.Equal(Tokenizer.Value.Tokenize(c.Text), c.TokenIds!));
        // Without a tokenizer there are no ids, and the embedder tokenises the text itself.
        Assert.All(new Chunker(new ChunkingOptions(), ApproximateTokenCounter.Instance).Chunk(doc), c => Assert.Null(c.TokenIds));
    }

    [Fact]
    public void Short_paragraphs_are_packed_together_and_not_split()
    {
        var text = string.Join("\n\n", Enumerable.Range(0, 10).Select(i => $"Paragraph {i} is short."));
        var chunks = new Chunker(new ChunkingOptions { MaxTokens = 256, OverlapTokens = 32 }, ApproximateTokenCounter.Instance)
            .Chunk(DocumentExtractor.FromPlainText(text));
        Assert.Single(chunks);
        Assert.Contains("Paragraph 9 is short.", chunks[0].Text);
    }

    [Fact]
    public void A_run_on_word_stream_is_still_cut_into_bounded_chunks()
    {
        var text = string.Join(" ", Enumerable.Range(0, 3000).Select(i => $"w{i}"));
        var chunks = new Chunker(new ChunkingOptions { MaxTokens = 100, OverlapTokens = 10 }, ApproximateTokenCounter.Instance)
            .Chunk(DocumentExtractor.FromPlainText(text));
        Assert.True(chunks.Count >= 30);
        Assert.All(chunks, c => Assert.True(ApproximateTokenCounter.Instance.CountTokens(c.Text) <= 110));
        Assert.Empty(new Chunker(new ChunkingOptions(), ApproximateTokenCounter.Instance).Chunk(DocumentExtractor.FromPlainText("  \n\n ")));
    }

    [Fact]
    public void Extractors_read_each_format_and_reject_bad_input_clearly()
    {
        var html = "<html><head><title>T</title><script>evil()</script></head><body><nav>Home | About</nav><main><h1>Title</h1><p>Body text <b>bold</b>.</p><ul><li>one</li><li>two</li></ul></main><footer>(c) 2026</footer></body></html>";
        var h = DocumentExtractor.FromHtml(html);
        Assert.Contains("Body text bold .", h.Text.Replace("  ", " "));
        Assert.DoesNotContain("evil", h.Text);
        Assert.DoesNotContain("Home | About", h.Text);
        Assert.DoesNotContain("(c) 2026", h.Text);
        Assert.Equal("T", h.Title);

        var j = DocumentExtractor.FromJson("{\"title\":\"Doc\",\"text\":\"First para.\\n\\nSecond para.\"}"u8.ToArray());
        Assert.Equal("Doc\n\nFirst para.\n\nSecond para.", j.Text);
        var flat = DocumentExtractor.FromJson("{\"a\":{\"b\":[\"x\",2]}}"u8.ToArray());
        Assert.Equal("a.b[0]: x\n\na.b[1]: 2", flat.Text);
        Assert.Throws<ExtractionException>(() => DocumentExtractor.FromJson("{not json"u8.ToArray()));
        Assert.Throws<ExtractionException>(() => DocumentExtractor.Extract("txt", [0xFF, 0xFE, 0xC3]));
        Assert.Throws<ExtractionException>(() => DocumentExtractor.Extract("docx", "not a zip"u8.ToArray()));
        var unsupported = Assert.Throws<ExtractionException>(() => DocumentExtractor.Extract("exe", [1]));
        Assert.True(unsupported.Unsupported);
        Assert.Equal("md", DocumentFormats.Detect("notes.MD", null));
        Assert.Equal("html", DocumentFormats.Detect(null, "text/html; charset=utf-8"));
        Assert.Null(DocumentFormats.Detect("a.bin", "application/octet-stream"));
    }

    [Fact]
    public void Docx_is_extracted_with_its_headings()
    {
        // A real .docx built with the OpenXML SDK: heading style and body paragraph.
        using var ms = new MemoryStream();
        using (var docx = DocumentFormat.OpenXml.Packaging.WordprocessingDocument.Create(ms, DocumentFormat.OpenXml.WordprocessingDocumentType.Document))
        {
            var main = docx.AddMainDocumentPart();
            var W = typeof(DocumentFormat.OpenXml.Wordprocessing.Body).Namespace;
            main.Document = new DocumentFormat.OpenXml.Wordprocessing.Document(new DocumentFormat.OpenXml.Wordprocessing.Body(
                new DocumentFormat.OpenXml.Wordprocessing.Paragraph(
                    new DocumentFormat.OpenXml.Wordprocessing.ParagraphProperties(new DocumentFormat.OpenXml.Wordprocessing.ParagraphStyleId { Val = "Heading1" }),
                    new DocumentFormat.OpenXml.Wordprocessing.Run(new DocumentFormat.OpenXml.Wordprocessing.Text("Chapter One"))),
                new DocumentFormat.OpenXml.Wordprocessing.Paragraph(new DocumentFormat.OpenXml.Wordprocessing.Run(new DocumentFormat.OpenXml.Wordprocessing.Text("It was a bright cold day.")))));
        }
        var d = DocumentExtractor.Extract("docx", ms.ToArray());
        Assert.Equal("Chapter One\n\nIt was a bright cold day.", d.Text);
        Assert.True(d.Blocks[0].IsHeading);
    }
}
