using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace RagCluster.Tests.Infrastructure;

/// <summary>Backups written here in the documented format (ragcluster-backup/1), so a test can make one of any size at once.</summary>
public static class BackupArchives
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>A deterministic unit vector for document <paramref name="i"/>.</summary>
    public static float[] Vector(int i, int dimensions)
    {
        var rng = new Random(i);
        var v = Enumerable.Range(0, dimensions).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var norm = MathF.Sqrt(v.Sum(x => x * x));
        return v.Select(x => x / norm).ToArray();
    }

    /// <summary>A collection of own-vector documents "d00000".., one chunk each.</summary>
    public static byte[] OwnVectors(string collection, int shardCount, int dimensions, int documents)
    {
        var settings = new { shardCount, chunkMaxTokens = 256, chunkOverlapTokens = 32, dimensions, layoutGeneration = 0 };
        var docs = new StringBuilder();
        var chunks = new StringBuilder();
        for (var i = 0; i < documents; i++)
        {
            var id = $"d{i:D5}";
            docs.Append(JsonSerializer.Serialize(new
            {
                documentId = id, version = 1, contentHash = $"h{i}", chunkCount = 1, tags = new Dictionary<string, string>(), format = "vectors", fileName = (string?)null,
                updatedAt = DateTimeOffset.UnixEpoch,
            }, Json)).Append('\n');
            chunks.Append(JsonSerializer.Serialize(new
            {
                chunkId = $"{id}#0", documentId = id, ordinal = 0, start = 0, end = 4, text = $"text {i}", headingPath = Array.Empty<string>(),
                tags = new Dictionary<string, string>(), vector = Vector(i, dimensions),
            }, Json)).Append('\n');
        }
        return Build(collection, settings, documents, documents, dimensions, docs.ToString(), chunks.ToString());
    }

    /// <summary>A zip of these parts, each compressed as small as it goes (a bomb's zeros: about 1,000x).</summary>
    public static byte[] ZipOf(params (string Name, byte[] Data)[] parts)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, data) in parts)
            {
                using var s = zip.CreateEntry(name, CompressionLevel.SmallestSize).Open();
                s.Write(data);
            }
        return buffer.ToArray();
    }

    /// <summary>An archive of these files, with a manifest whose checksums, sizes and line counts match them.</summary>
    public static byte[] Build(string collection, object settings, int documents, int chunks, int? dimensions, string documentsJsonl, string chunksJsonl)
    {
        var settingsJson = JsonSerializer.Serialize(settings, Json) + "\n";
        var files = new (string Name, string Text)[] { ("chunks.jsonl", chunksJsonl), ("documents.jsonl", documentsJsonl), ("settings.json", settingsJson) };
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, text) in files)
            {
                using var s = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
                s.Write(Encoding.UTF8.GetBytes(text));
            }
            var manifest = new
            {
                format = "ragcluster-backup/1", collection, createdAt = DateTimeOffset.UtcNow, settings, documents, chunks, dimensions, skipped = Array.Empty<string>(),
                files = files.Select(f =>
                {
                    var bytes = Encoding.UTF8.GetBytes(f.Text);
                    return new { name = f.Name, sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes = (long)bytes.Length, lines = f.Text.Count(c => c == '\n') };
                }).ToArray(),
            };
            using var m = zip.CreateEntry("manifest.json").Open();
            JsonSerializer.Serialize(m, manifest, Json);
        }
        return buffer.ToArray();
    }
}
