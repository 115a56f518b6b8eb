using RagCluster.Grains.Backup;
using RagCluster.Grains.Extraction;

using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>The explicit bounds on what a .docx or a backup may expand into (issue 35, item 3), each with its reason.</summary>
[Trait("Category", "Unit")]
public sealed class UploadBoundsTests
{

    [Fact]
    public void A_docx_part_inflating_past_the_ratio_is_refused_before_the_parser_reads_it()
    {
        var e = Assert.Throws<ExtractionException>(() => DocumentExtractor.Extract("docx", BackupArchives.ZipOf(("word/document.xml", new byte[32 << 20]))));
        Assert.Contains("inflates to more than 100x its stored size", e.Message);
    }

    [Fact]
    public void A_docx_of_too_many_parts_or_too_many_inflated_bytes_is_refused()
    {
        var parts = Assert.Throws<ExtractionException>(() => DocumentExtractor.Extract("docx", BackupArchives.ZipOf(Enumerable.Range(0, 1001).Select(i => ($"p{i}", new byte[1])).ToArray())));
        Assert.Contains("1,001 parts; at most 1,000", parts.Message);
        // Parts each under the ratio (random bytes do not compress) that add up past the total.
        var rng = new Random(1);
        var chunk = new byte[40 << 20];
        rng.NextBytes(chunk);
        var total = Assert.Throws<ExtractionException>(() => DocumentExtractor.Extract("docx", BackupArchives.ZipOf(Enumerable.Range(0, 7).Select(i => ($"p{i}", chunk)).ToArray())));
        Assert.Contains("inflates to more than 256 MiB", total.Message);
    }

    [Fact]
    public void A_backup_line_past_the_bound_and_a_manifest_claiming_more_than_the_bound_are_refused()
    {
        var line = System.Text.Json.JsonSerializer.Serialize(new { documentId = "d", version = 1, contentHash = "h", chunkCount = 0, tags = new { x = new string('x', 5 << 20) } }) + "\n";
        var longLine = BackupArchives.Build("long", new { shardCount = 1, chunkMaxTokens = 256, chunkOverlapTokens = 32 }, 1, 0, null, line, "");
        var e = Assert.Throws<BackupFormatException>(() => CollectionArchive.Verify(new MemoryStream(longLine)));
        Assert.Equal("documents.jsonl line 1 is longer than 4 MiB", e.Message);

        // A backup within the bounds passes.
        Assert.Equal(3, CollectionArchive.Verify(new MemoryStream(BackupArchives.OwnVectors("ok", 1, 4, 3))).Documents);
    }
}
