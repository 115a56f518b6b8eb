using System.Text;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// Real PDFs made by Ghostscript (Debian's ghostscript, installed by scripts/setup.sh) from a PostScript page
/// description: fonts embedded and subset (/prepress), content streams compressed, as PDFs in the wild are.
/// </summary>
public static class GhostscriptPdf
{
    /// <summary>A page: a heading, then paragraphs whose lines are laid out exactly as given.</summary>
    public sealed record Page(string Heading, params string[][] Paragraphs);

    public static byte[] Make(string title, params Page[] pages)
    {
        var ps = new StringBuilder("%!PS\n");
        ps.Append($"[ /Title ({Escape(title)}) /DOCINFO pdfmark\n");
        foreach (var page in pages)
        {
            var y = 720;
            ps.Append($"/Times-Bold findfont 20 scalefont setfont 72 {y} moveto ({Escape(page.Heading)}) show\n");
            ps.Append("/Times-Roman findfont 11 scalefont setfont\n");
            y -= 36;
            foreach (var paragraph in page.Paragraphs)
            {
                foreach (var line in paragraph)
                {
                    ps.Append($"72 {y} moveto ({Escape(line)}) show\n");
                    y -= 14;
                }
                y -= 16; // the gap that makes it a new paragraph
            }
            ps.Append("showpage\n");
        }
        var dir = Directory.CreateTempSubdirectory("rc-gs");
        try
        {
            var input = Path.Combine(dir.FullName, "in.ps");
            var output = Path.Combine(dir.FullName, "out.pdf");
            File.WriteAllText(input, ps.ToString(), Encoding.Latin1);
            RepoPaths.Run("/usr/bin/gs", ["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite", "-dPDFSETTINGS=/prepress", $"-sOutputFile={output}", input]);
            return File.ReadAllBytes(output);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("(", "\\(").Replace(")", "\\)");
}
