using System.IO.Compression;

namespace RagCluster.Grains.Extraction;

/// <summary>
/// What a zip-based upload (.docx) may expand into, checked before any parser sees it by inflating every part once
/// through a counter: the archive's directory declares sizes that a forged file can lie about, and a parser allocates
/// whatever a part really inflates to. The ratio bound is Apache POI's (ZipSecureFile's minimum inflate ratio 0.01).
/// </summary>
public static class ZipBounds
{
    public const int MaxParts = 1000;
    public const long MaxInflatedBytes = 256L << 20;
    public const int MaxRatio = 100;
    // Small parts compress well legitimately (a 40 KB run of spaces); the ratio is judged once a part is past this.
    private const long RatioCheckedFrom = 1 << 20;

    /// <summary>Throws <see cref="ExtractionException"/> naming the bound that <paramref name="content"/> passes.</summary>
    public static void Check(byte[] content, string what)
    {
        using var zip = new ZipArchive(new MemoryStream(content, writable: false), ZipArchiveMode.Read);
        if (zip.Entries.Count > MaxParts) throw new ExtractionException($"{what} has {zip.Entries.Count:N0} parts; at most {MaxParts:N0} are read");
        var buffer = new byte[81920];
        long total = 0;
        foreach (var entry in zip.Entries)
        {
            long inflated = 0;
            using var part = entry.Open();
            for (int n; (n = part.Read(buffer)) > 0;)
            {
                inflated += n;
                total += n;
                if (total > MaxInflatedBytes)
                    throw new ExtractionException($"{what} inflates to more than {MaxInflatedBytes >> 20} MiB; at most that is read");
                if (inflated > RatioCheckedFrom && inflated > MaxRatio * Math.Max(1, entry.CompressedLength))
                    throw new ExtractionException($"{what} part '{entry.FullName}' inflates to more than {MaxRatio}x its stored size (a decompression bomb?); not read");
            }
        }
    }
}
