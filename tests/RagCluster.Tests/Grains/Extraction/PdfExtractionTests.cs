using RagCluster.Grains.Extraction;
using RagCluster.Tests.Infrastructure;
using static RagCluster.Tests.Infrastructure.GhostscriptPdf;

namespace RagCluster.Tests.Rag;

/// <summary>PDF text through PdfPig, on files Ghostscript made (fonts embedded, streams compressed).</summary>
[Trait("Category", "Unit")]
public sealed class PdfExtractionTests
{
    internal static readonly Page[] Guide =
    [
        new("Green tea", ["Green tea is brewed at", "about 80 degrees Celsius for two minutes."], ["Longer steeping makes it bitter (tannins)."]),
        new("Black tea", ["Black tea wants water at a rolling boil", "and four minutes in the pot."], ["Milk is optional."]),
        new("Oolong", ["Oolong sits between the two: 90 degrees,", "three minutes, and several infusions."]),
    ];

    [Fact]
    public void A_multi_page_pdf_reads_in_page_order_with_lines_joined_into_paragraphs()
    {
        var d = DocumentExtractor.Extract("pdf", Make("Brewing Guide", Guide));
        Assert.Equal("Brewing Guide", d.Title);
        var paragraphs = d.Blocks.Select(b => d.Text.Substring(b.Start, b.Length)).ToList();
        // Each page's heading and paragraphs, in reading order; a paragraph's lines are one paragraph, and no block
        // reaches across a page break or joins a heading to the text under it.
        Assert.Equal(
        [
            "Green tea", "Green tea is brewed at about 80 degrees Celsius for two minutes.", "Longer steeping makes it bitter (tannins).",
            "Black tea", "Black tea wants water at a rolling boil and four minutes in the pot.", "Milk is optional.",
            "Oolong", "Oolong sits between the two: 90 degrees, three minutes, and several infusions.",
        ], paragraphs);
        // Lines set larger than the body text are headings: chunks under them carry the heading path.
        Assert.Equal(["Green tea", "Black tea", "Oolong"], d.Blocks.Where(b => b.IsHeading).Select(b => d.Text.Substring(b.Start, b.Length)));
        Assert.Equal(["Black tea"], d.Blocks.Single(b => d.Text.Substring(b.Start, b.Length) == "Milk is optional.").HeadingPath);
    }

    [Fact]
    public void A_long_pdf_is_read_to_its_last_page()
    {
        var pages = Enumerable.Range(1, 40).Select(i => new Page($"Section {i}", [$"Marker sentence number {i} of the long file."])).ToArray();
        var d = DocumentExtractor.Extract("pdf", Make("Long", pages));
        for (var i = 1; i <= 40; i++) Assert.Contains($"Marker sentence number {i} of the long file.", d.Text);
        Assert.True(d.Text.IndexOf("number 39 ", StringComparison.Ordinal) < d.Text.IndexOf("number 40 ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("empty")]
    [InlineData("not-pdf")]
    public void A_broken_pdf_is_an_extraction_error_with_a_reason(string damage)
    {
        var real = Make("Brewing Guide", Guide);
        var bytes = damage switch
        {
            "garbage" => "%PDF-1.4 garbage"u8.ToArray(),
            "truncated" => real[..200], // the header and a part of the first object: no page survives
            "empty" => [],
            _ => "PK\u0003\u0004 a zip file, not a PDF"u8.ToArray(),
        };
        var e = Assert.Throws<ExtractionException>(() => DocumentExtractor.Extract("pdf", bytes));
        Assert.StartsWith("not a readable PDF", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(e.Unsupported);
    }
}
