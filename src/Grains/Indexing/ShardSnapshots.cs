using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Vectors;
using RagCluster.Storage.GrainLogs;

namespace RagCluster.Grains.Indexing;

/// <summary>What a shard holds, as a snapshot writes it and a restore reads it back.</summary>
public sealed class ShardContent
{
    public int SlotCount;
    public required IReadOnlyList<int> LiveSlots;
    public required IReadOnlyList<ChunkRecord> Chunks;  // one per live slot, without vectors (those are in the graph)
    public required IReadOnlyDictionary<string, long> DocumentVersions; // negative: removed at that version
    public HnswIndex? Graph;
    public required IReadOnlyList<int> NodeToSlot;
    /// <summary>A reshard replaced this shard: it holds nothing and takes nothing (written last; older snapshots end before it).</summary>
    public bool Retired;
}

/// <summary>Earlier shards stored this record whole (one array, one database value); restores still read it.</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardSnapshot")]
public sealed record ShardSnapshot(int SlotCount, int[] LiveSlots, ChunkRecord[] Chunks, Dictionary<string, long> DocumentVersions,
    byte[]? Graph, int[] NodeToSlot);

/// <summary>
/// A shard's snapshot as a stream of sections, written into pages (<see cref="SnapshotPipe"/>): chunks in
/// batches, document versions, the graph as <see cref="HnswIndex.Save"/> lays it out, and the node-to-slot map.
/// No part is one array, so a shard has no size wall short of memory.
/// </summary>
public static class ShardSnapshots
{
    private const int Magic = 0x33534352; // "RCS3"
    private const int ChunksPerBatch = 4096;

    public static void Write(ShardContent content, Serializer serializer, Stream output)
    {
        using (var w = new BinaryWriter(output, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(content.SlotCount);
            w.Write(content.LiveSlots.Count);
            for (var start = 0; start < content.LiveSlots.Count; start += ChunksPerBatch)
            {
                var n = Math.Min(ChunksPerBatch, content.LiveSlots.Count - start);
                for (var i = start; i < start + n; i++) w.Write(content.LiveSlots[i]);
                var batch = serializer.SerializeToArray(Enumerable.Range(start, n).Select(i => content.Chunks[i]).ToArray());
                w.Write(batch.Length);
                w.Write(batch);
            }
            w.Write(content.DocumentVersions.Count);
            foreach (var (doc, version) in content.DocumentVersions) { w.Write(doc); w.Write(version); }
            w.Write(content.Graph is not null);
            content.Graph?.Save(w);
            w.Write(content.NodeToSlot.Count);
            foreach (var slot in content.NodeToSlot) w.Write(slot);
            w.Write(content.Retired);
        }
    }

    public static ShardContent Read(IReadOnlyList<byte[]> pages, Serializer serializer, HnswOptions hnswOptions)
    {
        if (pages.Count == 0 || pages[0].Length < 4 || BitConverter.ToInt32(pages[0], 0) != Magic)
            return FromRecord(serializer.Deserialize<ShardSnapshot>(pages.SelectMany(p => p).ToArray())!, hnswOptions);
        using var r = new BinaryReader(new PagedReadStream(pages));
        r.ReadInt32();
        var slotCount = r.ReadInt32();
        var live = new int[r.ReadInt32()];
        var chunks = new List<ChunkRecord>(live.Length);
        for (var start = 0; start < live.Length; start += ChunksPerBatch)
        {
            var n = Math.Min(ChunksPerBatch, live.Length - start);
            for (var i = start; i < start + n; i++) live[i] = r.ReadInt32();
            var batch = serializer.Deserialize<ChunkRecord[]>(r.ReadBytes(r.ReadInt32()))!;
            if (batch.Length != n) throw new InvalidDataException("corrupt shard snapshot: a chunk batch has the wrong length");
            chunks.AddRange(batch);
        }
        var versionCount = r.ReadInt32();
        var versions = new Dictionary<string, long>(versionCount, StringComparer.Ordinal);
        for (var i = 0; i < versionCount; i++) versions[r.ReadString()] = r.ReadInt64();
        var graph = r.ReadBoolean() ? HnswIndex.Load(r, hnswOptions) : null;
        var nodeToSlot = new int[r.ReadInt32()];
        for (var i = 0; i < nodeToSlot.Length; i++) nodeToSlot[i] = r.ReadInt32();
        var retired = r.BaseStream.Position < r.BaseStream.Length && r.ReadBoolean();
        return new ShardContent { SlotCount = slotCount, LiveSlots = live, Chunks = chunks, DocumentVersions = versions, Graph = graph, NodeToSlot = nodeToSlot, Retired = retired };
    }

    private static ShardContent FromRecord(ShardSnapshot s, HnswOptions hnswOptions)
    {
        HnswIndex? graph = null;
        if (s.Graph is not null)
        {
            using var r = new BinaryReader(new MemoryStream(s.Graph));
            graph = HnswIndex.Load(r, hnswOptions);
        }
        return new ShardContent { SlotCount = s.SlotCount, LiveSlots = s.LiveSlots, Chunks = s.Chunks, DocumentVersions = s.DocumentVersions, Graph = graph, NodeToSlot = s.NodeToSlot };
    }
}

/// <summary>A list whose items are made when read: a snapshot writes a shard's chunks a batch at a time, never all at once.</summary>
internal sealed class LazyList<T>(int count, Func<int, T> item) : IReadOnlyList<T>
{
    public int Count => count;
    public T this[int index] => (uint)index < (uint)count ? item(index) : throw new ArgumentOutOfRangeException(nameof(index));
    public IEnumerator<T> GetEnumerator() { for (var i = 0; i < count; i++) yield return item(i); }
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
