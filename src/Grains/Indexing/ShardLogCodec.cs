using System.Runtime.InteropServices;
using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Indexing;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// A shard log entry's bytes, in a layout of our own: strings and numbers in order, a vector as its raw floats. Written
/// by hand because Orleans' generated codec for a <c>float[]</c> field reads one float at a time, a field header each,
/// which was most of a crash restart's log replay (bench/results, issue 60, "A crash restart"); a registered codec for
/// <c>float[]</c> is not used for such a field (tried). Entries in Orleans' encoding (written before this, or with
/// <c>Shards:LogFormat orleans</c>) are told apart by the first four bytes and still read.
/// </summary>
public static class ShardLogCodec
{
    // Orleans' encoding of a ShardLogEntry starts with a field header byte other than 'R' (ShardLogCodecTests checks it).
    private static ReadOnlySpan<byte> Magic => "RCL1"u8;

    public static byte[] Encode(ShardLogEntry entry, Serializer serializer, bool own)
    {
        if (!own) return serializer.SerializeToArray(entry);
        var bytes = new MemoryStream(64 + entry.Chunks.Sum(c => (c.Vector?.Length ?? 0) * sizeof(float) + (c.Text?.Length ?? 0) * 2));
        using (var w = new BinaryWriter(bytes, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(entry.DocumentId);
            w.Write(entry.Version);
            w.Write((byte)((entry.Removed ? 1 : 0) | (entry.Merge ? 2 : 0)));
            WriteMap(w, entry.Retag);
            w.Write(entry.Chunks.Length);
            foreach (var c in entry.Chunks)
            {
                w.Write(c.ChunkId);
                w.Write(c.DocumentId);
                w.Write(c.Ordinal);
                w.Write(c.Start);
                w.Write(c.End);
                // A null is kept as one, as Orleans' encoding keeps it: a text as a flag before it, a list as count -1.
                w.Write(c.Text is not null);
                if (c.Text is not null) w.Write(c.Text);
                w.Write(c.HeadingPath?.Length ?? -1);
                foreach (var h in c.HeadingPath ?? []) w.Write(h);
                WriteMap(w, c.Tags);
                w.Write(c.Vector?.Length ?? -1);
                if (c.Vector is { } v) w.Write(MemoryMarshal.AsBytes(v.AsSpan())); // little-endian, as every platform .NET runs a silo on
            }
        }
        return bytes.ToArray();
    }

    public static ShardLogEntry Decode(byte[] bytes, Serializer serializer)
    {
        if (!bytes.AsSpan().StartsWith(Magic)) return serializer.Deserialize<ShardLogEntry>(bytes)!;
        var stream = new MemoryStream(bytes, writable: false) { Position = Magic.Length };
        using var r = new BinaryReader(stream);
        var documentId = r.ReadString();
        var version = r.ReadInt64();
        var flags = r.ReadByte();
        var retag = ReadMap(r);
        var chunks = new ChunkRecord[r.ReadInt32()];
        for (var i = 0; i < chunks.Length; i++)
        {
            var (chunkId, chunkDocument, ordinal, start, end) = (r.ReadString(), r.ReadString(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
            var text = r.ReadBoolean() ? r.ReadString() : null;
            var headingCount = r.ReadInt32();
            var headings = headingCount < 0 ? null : new string[headingCount];
            for (var h = 0; h < headingCount; h++) headings![h] = r.ReadString();
            var tags = ReadMap(r);
            var length = r.ReadInt32();
            float[]? vector = null;
            if (length >= 0)
            {
                vector = new float[length];
                stream.ReadExactly(MemoryMarshal.AsBytes(vector.AsSpan()));
            }
            chunks[i] = new ChunkRecord(chunkId, chunkDocument, ordinal, start, end, text!, headings!, tags!, vector);
        }
        return new ShardLogEntry(documentId, version, chunks, (flags & 1) != 0) { Merge = (flags & 2) != 0, Retag = retag };
    }

    private static void WriteMap(BinaryWriter w, Dictionary<string, string>? map)
    {
        w.Write(map?.Count ?? -1);
        foreach (var (k, v) in map ?? []) { w.Write(k); w.Write(v); }
    }

    private static Dictionary<string, string>? ReadMap(BinaryReader r)
    {
        var count = r.ReadInt32();
        if (count < 0) return null;
        var map = new Dictionary<string, string>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++) map[r.ReadString()] = r.ReadString();
        return map;
    }
}
