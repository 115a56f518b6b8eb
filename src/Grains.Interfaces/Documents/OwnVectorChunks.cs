using System.Buffers.Binary;
using System.Text;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Grains.Interfaces.Documents;

/// <summary>One chunk its sender embedded: its text (may be empty) and its vector, or none (found by filters and BM25 only).</summary>
public sealed record OwnVectorChunk(string Text, float[]? Vector);

/// <summary>
/// Documents that arrive as chunks with vectors computed elsewhere, for collections created with a dimension and no
/// model. The document grain stores them as its content in this compact form (format <see cref="Format"/>) until they
/// are indexed: "RCV1", dimensions, count, then per chunk its UTF-8 text's length and bytes and its float32 vector,
/// little-endian; "RCV2" where a chunk has no vector, with a byte before each vector that says whether it follows.
/// The wire form of IngestRequest's content in that format, so every door encodes it alike; checked at the door (a
/// 400 per document) and again where they are indexed. A collection of 0 dimensions holds no
/// vectors at all: its chunks are text, found by filters and BM25.
/// </summary>
public static class OwnVectorChunks
{
    public const string Format = "vectors";
    public const int MaxDimensions = 4096, MaxChunks = 10_000, MaxTextLength = 32_768;
    private static ReadOnlySpan<byte> Magic => "RCV1"u8;
    private static ReadOnlySpan<byte> OptionalVectors => "RCV2"u8;

    /// <summary>Why this vector cannot be indexed in a collection of <paramref name="dimensions"/>, or null when it can.</summary>
    public static string? Problem(ReadOnlySpan<float> vector, int dimensions)
    {
        if (vector.Length != dimensions) return $"has {vector.Length} dimensions; the collection takes {dimensions}";
        var any = false;
        foreach (var x in vector)
        {
            if (!float.IsFinite(x)) return "holds NaN or an infinity";
            any |= x != 0;
        }
        return any ? null : "is all zeros (it has no direction to compare by cosine)";
    }

    /// <summary>A little-endian float32 vector from base64 (the compact JSON form), or null when it is not that.</summary>
    public static float[]? FromBase64(string base64)
    {
        byte[] bytes;
        try { bytes = Convert.FromBase64String(base64); }
        catch (FormatException) { return null; }
        if (bytes.Length % 4 != 0) return null;
        var vector = new float[bytes.Length / 4];
        for (var i = 0; i < vector.Length; i++) vector[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        return vector;
    }

    /// <summary>The compact JSON form of a vector: its float32 values, little-endian, in base64.</summary>
    public static string ToBase64(ReadOnlySpan<float> vector)
    {
        var bytes = new byte[vector.Length * 4];
        for (var i = 0; i < vector.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), vector[i]);
        return Convert.ToBase64String(bytes);
    }

    public static byte[] Encode(IReadOnlyList<OwnVectorChunk> chunks, int dimensions)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms); // little-endian, as the format says
        // Every chunk with its vector: the first form, which builds before vector-less chunks read too.
        var optional = chunks.Any(c => c.Vector is null);
        w.Write(optional ? OptionalVectors : Magic);
        w.Write(dimensions);
        w.Write(chunks.Count);
        foreach (var chunk in chunks)
        {
            var text = Encoding.UTF8.GetBytes(chunk.Text);
            w.Write(text.Length);
            w.Write(text);
            if (optional) w.Write(chunk.Vector is not null);
            foreach (var x in chunk.Vector ?? []) w.Write(x);
        }
        w.Flush();
        return ms.ToArray();
    }

    /// <exception cref="InvalidRequestException">Not this format, or cut short.</exception>
    public static (int Dimensions, List<OwnVectorChunk> Chunks) Decode(byte[] content)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(content));
            var magic = r.ReadBytes(4);
            var optional = magic.AsSpan().SequenceEqual(OptionalVectors);
            if (!optional && !magic.AsSpan().SequenceEqual(Magic)) throw new InvalidRequestException("not a vectors document");
            var dimensions = r.ReadInt32();
            var count = r.ReadInt32();
            if (dimensions is < 0 or > MaxDimensions || (dimensions == 0 && !optional) || count is < 0 or > MaxChunks) throw new InvalidRequestException("a vectors document with impossible sizes");
            var chunks = new List<OwnVectorChunk>(count);
            for (var i = 0; i < count; i++)
            {
                var text = Encoding.UTF8.GetString(r.ReadBytes(r.ReadInt32()));
                float[]? vector = null;
                if (!optional || r.ReadBoolean())
                {
                    vector = new float[dimensions];
                    for (var j = 0; j < dimensions; j++) vector[j] = r.ReadSingle();
                }
                chunks.Add(new OwnVectorChunk(text, vector));
            }
            return (dimensions, chunks);
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentOutOfRangeException) // a length field past the end, or negative
        {
            throw new InvalidRequestException("a vectors document cut short");
        }
    }
}
