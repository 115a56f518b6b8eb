using System.Runtime.InteropServices;

namespace RagCluster.Grains.Vectors;

// The graph is saved as is, so a restore costs a read, not a rebuild.
public sealed unsafe partial class HnswIndex
{
    public void Save(BinaryWriter w)
    {
        // format version: 3 is int8 (codes and scales, then the full-precision vectors at the end); 4 is float32 by
        // another metric than cosine (its number next; l2's squared lengths are computed again at the load)
        // (+ ValueLinksFormat: the values' graphs follow the rest, HnswIndex.Values.cs)
        w.Write((_int8 ? 3 : Metric == VectorMetric.Cosine ? 2 : 4) | (_valueGraphs.Count > 0 ? ValueLinksFormat : 0));
        if (Metric != VectorMetric.Cosine) w.Write((int)Metric);
        w.Write(Dimensions); w.Write(_m); w.Write(Options.EfConstruction); w.Write(Options.EfSearch); w.Write(Options.Seed);
        if (PendingCount != 0) throw new InvalidOperationException("appended nodes wait for LinkPending");
        var (ep, maxLevel) = ReadEntry();
        w.Write(_count); w.Write(ep); w.Write(maxLevel);
        // Node after node, as format 2 has always been laid out; the blocks are only how memory holds it.
        if (_int8)
        {
            for (var b = 0; b * BlockNodes < _count; b++)
                w.Write(MemoryMarshal.AsBytes(_codeBlocks[b].AsSpan(0, Math.Min(BlockNodes, _count - b * BlockNodes) * Dimensions)));
            w.Write(MemoryMarshal.AsBytes(_scales.AsSpan(0, _count)));
        }
        else
            for (var b = 0; b * BlockNodes < _count; b++)
                w.Write(MemoryMarshal.AsBytes(_vectorBlocks[b].AsSpan(0, Math.Min(BlockNodes, _count - b * BlockNodes) * Dimensions)));
        for (var b = 0; b * BlockNodes < _count; b++)
            w.Write(MemoryMarshal.AsBytes(_links0Blocks[b].AsSpan(0, Math.Min(BlockNodes, _count - b * BlockNodes) * (_m0 + 1))));
        for (var i = 0; i < _count; i++)
        {
            w.Write(_levels[i]);
            w.Write(_deleted[i]);
            for (var l = 0; l < _levels[i]; l++)
            {
                var links = _upperLinks[i]![l]!;
                w.Write(links[0]);
                for (var j = 1; j <= links[0]; j++) w.Write(links[j]);
            }
        }
        if (_int8)
        {
            var row = new float[Dimensions];
            for (var i = 0; i < _count; i++)
            {
                _full!.Read(i, row);
                w.Write(MemoryMarshal.AsBytes(row.AsSpan()));
            }
        }
        if (_valueGraphs.Count > 0) SaveValues(w);
    }

    private const int ValueLinksFormat = 0x100;

    public static HnswIndex Load(BinaryReader r, HnswOptions? searchOptions = null)
    {
        var format = r.ReadInt32();
        var valueLinks = (format & ValueLinksFormat) != 0;
        format &= ~ValueLinksFormat;
        if (format is not (2 or 3 or 4)) throw new InvalidDataException("unknown HNSW snapshot format");
        var metric = format == 4 ? (VectorMetric)r.ReadInt32() : VectorMetric.Cosine;
        if (!Enum.IsDefined(metric)) throw new InvalidDataException("unknown HNSW snapshot metric");
        var dims = r.ReadInt32();
        var options = new HnswOptions { M = r.ReadInt32(), EfConstruction = r.ReadInt32(), EfSearch = r.ReadInt32(), Seed = r.ReadInt32() };
        if (searchOptions is not null) (options.EfSearch, options.FullPrecisionDirectory) = (searchOptions.EfSearch, searchOptions.FullPrecisionDirectory);
        var count = r.ReadInt32();
        if (dims <= 0 || count < 0) throw new InvalidDataException("corrupt HNSW snapshot header");
        var index = new HnswIndex(dims, options, count, format == 3 ? VectorEncoding.Int8 : VectorEncoding.Float32, metric);
        index._entry = Entry(r.ReadInt32(), r.ReadInt32());
        index.EnsureCapacity(count);
        index._count = index._linked = count;
        if (index._int8)
        {
            for (var b = 0; b * BlockNodes < count; b++)
                ReadExactly(r, MemoryMarshal.AsBytes(index._codeBlocks[b].AsSpan(0, Math.Min(BlockNodes, count - b * BlockNodes) * dims)));
            ReadExactly(r, MemoryMarshal.AsBytes(index._scales.AsSpan(0, count)));
        }
        else
            for (var b = 0; b * BlockNodes < count; b++)
                ReadExactly(r, MemoryMarshal.AsBytes(index._vectorBlocks[b].AsSpan(0, Math.Min(BlockNodes, count - b * BlockNodes) * dims)));
        if (index._l2)
            for (var i = 0; i < count; i++) index._scales[i] = VectorMath.Dot(index.VectorAt(i), index.VectorAt(i), dims);
        for (var b = 0; b * BlockNodes < count; b++)
            ReadExactly(r, MemoryMarshal.AsBytes(index._links0Blocks[b].AsSpan(0, Math.Min(BlockNodes, count - b * BlockNodes) * (index._m0 + 1))));
        for (var i = 0; i < count; i++)
        {
            var level = r.ReadInt32();
            index._levels[i] = level;
            if (r.ReadBoolean()) { index._deleted[i] = true; index._deletedCount++; }
            if (level == 0) continue;
            var lists = new int[]?[level];
            for (var l = 0; l < level; l++)
            {
                var n = r.ReadInt32();
                if (n < 0 || n > index._m) throw new InvalidDataException("corrupt HNSW snapshot links");
                var links = new int[index._m + 1];
                links[0] = n;
                for (var j = 1; j <= n; j++) links[j] = r.ReadInt32();
                lists[l] = links;
            }
            index._upperLinks[i] = lists;
        }
        if (index._int8)
        {
            var row = new float[dims];
            for (var i = 0; i < count; i++)
            {
                ReadExactly(r, MemoryMarshal.AsBytes(row.AsSpan()));
                index._full!.Write(i, row);
            }
        }
        if (valueLinks) index.LoadValues(r);
        index._scratch.Visited.EnsureCapacity(count);
        return index;
    }

    private static void ReadExactly(BinaryReader r, Span<byte> into)
    {
        // A stream may return fewer bytes than asked (a paged one does at each page's end).
        while (into.Length > 0)
        {
            var n = r.Read(into);
            if (n == 0) throw new InvalidDataException("truncated HNSW snapshot");
            into = into[n..];
        }
    }
}
