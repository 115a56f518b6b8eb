using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using RagCluster.Grains.Interfaces.Documents;

namespace RagCluster.Cli;

/// <summary>
/// Files of vectors computed elsewhere, for collections that bring their own (created with a dimension): each record is
/// a document. <c>.npy</c>: a 2-D little-endian float32 (or float64) array in C order, one row a document with one
/// chunk and no text, ids "{file name}-{row}". <c>.jsonl</c>: one JSON object a line, either one chunk
/// (<c>{"id","text","vector"|"vectorBase64","tags"}</c>) or several (<c>{"id","chunks":[{"text","vector"}],"tags"}</c>);
/// ids default to "{file name}-{line}". Read a record at a time, so a file of a million rows never sits in memory.
/// </summary>
public static partial class VectorFiles
{
    public static bool IsVectorFile(string path) => Path.GetExtension(path).ToLowerInvariant() is ".npy" or ".jsonl";

    /// <summary>The vectors' dimension, from the .npy header or the first .jsonl record.</summary>
    public static int Dimensions(string path)
    {
        if (Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase))
        {
            using var s = File.OpenRead(path);
            return NpyHeader(s).Columns;
        }
        var lines = File.ReadLines(path).Select((text, i) => (Text: text, Number: i + 1));
        var (first, number) = lines.FirstOrDefault(l => !string.IsNullOrWhiteSpace(l.Text));
        if (first is null) throw new CliException($"{path}: no records");
        try { return Parse(first, null).Chunks[0].Vector!.Length; }
        catch (CliException e) { throw new CliException($"{path}:{number}: {e.Message}"); }
    }

    public static int Count(string path)
    {
        if (!Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase)) return File.ReadLines(path).Count(l => !string.IsNullOrWhiteSpace(l));
        using var s = File.OpenRead(path);
        var (rows, columns, wide) = NpyHeader(s);
        if (s.Length - s.Position != (long)rows * columns * (wide ? 8 : 4))
            throw new CliException($"{path}: the header says {rows} rows of {columns}, the file holds {s.Length - s.Position} bytes of data");
        return rows;
    }

    /// <summary>
    /// Each record as (label for messages, document id, request); a record that cannot be a document of a collection
    /// of <paramref name="dimensions"/> throws CliException from its loader, so it is reported and skipped alone.
    /// </summary>
    public static IEnumerable<(string Label, string Id, Func<IngestRequest> Load)> Read(string path, Dictionary<string, string> tags, int dimensions)
    {
        var stem = Path.GetFileNameWithoutExtension(path);
        if (Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase))
        {
            using var s = File.OpenRead(path);
            var (rows, columns, wide) = NpyHeader(s);
            var row = new byte[columns * (wide ? 8 : 4)];
            for (var i = 0; i < rows; i++)
            {
                s.ReadExactly(row);
                var vector = new float[columns];
                for (var j = 0; j < columns; j++)
                    vector[j] = wide ? (float)BinaryPrimitives.ReadDoubleLittleEndian(row.AsSpan(j * 8)) : BinaryPrimitives.ReadSingleLittleEndian(row.AsSpan(j * 4));
                yield return ($"{path}:row {i}", $"{stem}-{i}", () => Request([new OwnVectorChunk("", vector)], tags, dimensions));
            }
            yield break;
        }
        var line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            // Parsed once here; a bad line fails in its loader, so it is reported and skipped alone.
            (string? Id, List<OwnVectorChunk> Chunks, Dictionary<string, string> Tags) record = default;
            CliException? bad = null;
            try { record = Parse(text, tags); }
            catch (CliException e) { bad = e; }
            yield return ($"{path}:{line}", record.Id ?? $"{stem}-{line}", () => bad is null ? Request(record.Chunks!, record.Tags!, dimensions) : throw bad);
        }
    }

    private static IngestRequest Request(List<OwnVectorChunk> chunks, Dictionary<string, string> tags, int dimensions)
    {
        for (var i = 0; i < chunks.Count; i++)
            if (OwnVectorChunks.Problem(chunks[i].Vector!, dimensions) is { } problem) throw new CliException($"chunk {i}'s vector {problem}");
        return new IngestRequest(OwnVectorChunks.Format, OwnVectorChunks.Encode(chunks, dimensions), tags, null);
    }

    private static (string? Id, List<OwnVectorChunk> Chunks, Dictionary<string, string> Tags) Parse(string line, Dictionary<string, string>? tags)
    {
        try
        {
            var o = JsonDocument.Parse(line).RootElement;
            var merged = new Dictionary<string, string>(tags ?? []);
            if (o.TryGetProperty("tags", out var t) && t.ValueKind == JsonValueKind.Object)
                foreach (var p in t.EnumerateObject()) merged[p.Name] = p.Value.ToString();
            var chunks = o.TryGetProperty("chunks", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Select(Chunk).ToList()
                : [Chunk(o)];
            if (chunks.Count == 0) throw new CliException("no chunks");
            return (o.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null, chunks, merged);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new CliException($"not a vector record ({e.Message.Split('\n')[0]})");
        }
    }

    private static OwnVectorChunk Chunk(JsonElement c)
    {
        var text = c.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
        if (c.TryGetProperty("vector", out var v)) return new OwnVectorChunk(text, v.EnumerateArray().Select(x => x.GetSingle()).ToArray());
        if (c.TryGetProperty("vectorBase64", out var b))
            return new OwnVectorChunk(text, OwnVectorChunks.FromBase64(b.GetString()!) ?? throw new FormatException("vectorBase64 is not base64 of float32 values"));
        throw new FormatException("a record needs \"vector\" or \"vectorBase64\" (or \"chunks\" of them)");
    }

    [GeneratedRegex(@"'descr':\s*'(?<descr>[^']+)'.*'fortran_order':\s*(?<fortran>True|False).*'shape':\s*\((?<rows>\d+),\s*(?<cols>\d+)\s*\)", RegexOptions.Singleline)]
    private static partial Regex NpyDict();

    /// <summary>Reads the .npy header (format versions 1 to 3), leaving the stream at the first row.</summary>
    private static (int Rows, int Columns, bool Wide) NpyHeader(Stream s)
    {
        Span<byte> prefix = stackalloc byte[8];
        s.ReadExactly(prefix);
        if (prefix[0] != 0x93 || !prefix[1..6].SequenceEqual("NUMPY"u8)) throw new CliException("not a .npy file (no \\x93NUMPY magic)");
        var major = prefix[6];
        int length;
        if (major == 1) { Span<byte> l = stackalloc byte[2]; s.ReadExactly(l); length = BinaryPrimitives.ReadUInt16LittleEndian(l); }
        else { Span<byte> l = stackalloc byte[4]; s.ReadExactly(l); length = (int)BinaryPrimitives.ReadUInt32LittleEndian(l); }
        var header = new byte[length];
        s.ReadExactly(header);
        var m = NpyDict().Match(Encoding.Latin1.GetString(header));
        if (!m.Success) throw new CliException(".npy: only 2-D arrays (rows of vectors) are read");
        if (m.Groups["fortran"].Value == "True") throw new CliException(".npy: Fortran order is not read; save with C order (numpy's default)");
        var wide = m.Groups["descr"].Value switch
        {
            "<f4" => false,
            "<f8" => true,
            var d => throw new CliException($".npy: dtype '{d}' is not read; use little-endian float32 ('<f4') or float64 ('<f8')"),
        };
        return (int.Parse(m.Groups["rows"].Value), int.Parse(m.Groups["cols"].Value), wide);
    }
}
