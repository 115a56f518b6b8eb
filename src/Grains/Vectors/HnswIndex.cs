using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RagCluster.Grains.Vectors;

/// <summary>
/// Hierarchical navigable small world graph (Malkov &amp; Yashunin) over unit vectors with cosine distance
/// (1 - dot). Vectors and layer-0 links live in blocks of <see cref="BlockNodes"/> nodes that never move once
/// allocated: capacity has no 2^31-element wall, growth copies nothing, and a reader never sees an array replaced.
/// Deletes are tombstones: deleted nodes still route searches but never appear in results (<see cref="Compacted(int, CancellationToken)"/>
/// drops them).
/// Threads: one caller changes the index at a time. <see cref="LinkPending"/> may run on other threads (several, as
/// hnswlib does) while one other thread searches; each node's links are guarded by a spin lock while it runs.
/// </summary>
public sealed unsafe partial class HnswIndex : IDisposable
{
    private readonly int _m;
    private readonly int _m0;
    private readonly double _levelMult;

    public const int BlockNodes = 1024;
    private const int BlockShift = 10;

    // Pinned (pinned object heap) so searches can prefetch a neighbour's vector by address before scoring it.
    private readonly List<float[]> _vectorBlocks = [];
    private nint[] _vectorBlockAddresses = new nint[16];
    private readonly List<int[]> _links0Blocks = []; // per node (_m0 + 1) ints: [count, n1..n_m0]
    // Int8: codes in pinned blocks as the vectors are otherwise, each vector's scale, and the originals in a file.
    private readonly bool _int8;
    // Cosine scales vectors to length 1 as they arrive; l2 keeps each vector's squared length in _scales (the walk's |a|² + |b|² - 2a·b).
    private readonly bool _unit, _l2;
    private readonly List<sbyte[]> _codeBlocks = [];
    private nint[] _codeBlockAddresses = new nint[16];
    private float[] _scales = [];
    private readonly FullPrecisionFile? _full;
    private int[]?[][] _upperLinks; // node -> level-1 -> [count, n1..n_m]
    private int[] _levels;
    private bool[] _deleted;
    private int _count;
    private int _linked;  // nodes 0.._linked-1 are in the graph; the rest were appended and wait for LinkPending
    private long _entry = Entry(-1, -1); // the entry point and the top level, read together by searches
    private int _deletedCount;
    // Scratch reused by every search and single-threaded insert; parallel inserts get one each.
    private readonly Scratch _scratch;
    // Per-node link locks, present only while a parallel AddRange runs.
    private byte[]? _locks;
    private readonly Lock _entryLock = new();

    public HnswIndex(int dimensions, HnswOptions options, int initialCapacity = 1024, VectorEncoding encoding = VectorEncoding.Float32,
        VectorMetric metric = VectorMetric.Cosine)
    {
        options.Validate();
        if (dimensions <= 0) throw new ArgumentOutOfRangeException(nameof(dimensions));
        Dimensions = dimensions;
        Options = options;
        _m = options.M;
        _m0 = 2 * options.M;
        _levelMult = 1 / Math.Log(options.M);
        initialCapacity = Math.Max(16, initialCapacity);
        _upperLinks = new int[]?[initialCapacity][];
        _levels = new int[initialCapacity];
        _deleted = new bool[initialCapacity];
        _scratch = new Scratch(_m0);
        Encoding = encoding;
        Metric = metric;
        // int8 codes are of unit vectors: the other metrics compare vectors as sent, at full precision.
        if (encoding == VectorEncoding.Int8 && metric != VectorMetric.Cosine) throw new ArgumentException("an int8 index compares by cosine");
        (_unit, _l2) = (metric == VectorMetric.Cosine, metric == VectorMetric.L2);
        if (encoding == VectorEncoding.Int8)
        {
            _int8 = true;
            _full = new FullPrecisionFile(dimensions, options.FullPrecisionDirectory);
        }
        if (_int8 || _l2) _scales = new float[initialCapacity];
    }

    public VectorEncoding Encoding { get; }
    public VectorMetric Metric { get; }

    /// <summary>A hit's score for a distance the walk measured: the similarity (cosine, dot), or minus the Euclidean distance (l2).</summary>
    public float Score(float distance) => _l2 ? -MathF.Sqrt(Math.Max(0f, distance)) : 1f - distance;

    /// <summary>Closes the int8 index's full-precision file (its space goes back to the system).</summary>
    public void Dispose() => _full?.Dispose();

    public int Dimensions { get; }
    public HnswOptions Options { get; }
    /// <summary>Nodes ever added, deleted ones included (node ids are 0..Count-1).</summary>
    public int Count => _count;
    public int LiveCount => _count - _deletedCount;
    public int DeletedCount => _deletedCount;

    public bool IsDeleted(int node) => _deleted[node];

    private static long Entry(int node, int level) => ((long)level << 32) | (uint)node;
    private (int Node, int Level) ReadEntry()
    {
        var e = Volatile.Read(ref _entry);
        return ((int)e, (int)(e >> 32));
    }

    /// <summary>Approximate bytes held by the graph and vectors.</summary>
    public long MemoryBytes
    {
        get
        {
            long upper = 0;
            for (var i = 0; i < _count; i++)
                if (_upperLinks[i] is { } lists) foreach (var l in lists) upper += 16 + (l?.Length ?? 0) * 4L;
            var vectorBytes = _int8 ? _codeBlocks.Count * (long)BlockNodes * Dimensions + _scales.Length * 4L : _vectorBlocks.Count * (long)BlockNodes * Dimensions * 4;
            return vectorBytes + _links0Blocks.Count * (long)BlockNodes * (_m0 + 1) * 4 + _levels.Length * 5L + upper + ValueBytes();
        }
    }

    private Span<int> Links(int node, int level) =>
        level == 0 ? _links0Blocks[node >> BlockShift].AsSpan((node & (BlockNodes - 1)) * (_m0 + 1), _m0 + 1) : _upperLinks[node]![level - 1];

    // Blocks are added, never moved; the per-node arrays (a few bytes a node) grow by doubling.
    private void EnsureCapacity(int needed)
    {
        if (needed < 0) throw new InvalidOperationException("an index holds at most 2^31-1 nodes");
        while (_links0Blocks.Count * (long)BlockNodes < needed)
        {
            if (_int8) AddBlock(_codeBlocks, ref _codeBlockAddresses, GC.AllocateUninitializedArray<sbyte>(BlockNodes * Dimensions, pinned: true));
            else AddBlock(_vectorBlocks, ref _vectorBlockAddresses, GC.AllocateUninitializedArray<float>(BlockNodes * Dimensions, pinned: true));
            _links0Blocks.Add(new int[BlockNodes * (_m0 + 1)]);
        }
        var cap = _levels.Length;
        if (needed <= cap) return;
        var newCap = (int)Math.Min(Array.MaxLength, Math.Max(needed, cap * 2L));
        Array.Resize(ref _upperLinks, newCap);
        Array.Resize(ref _levels, newCap);
        Array.Resize(ref _deleted, newCap);
        if (_int8 || _l2) Array.Resize(ref _scales, newCap);
    }

    private static void AddBlock<T>(List<T[]> blocks, ref nint[] addresses, T[] block) where T : unmanaged
    {
        blocks.Add(block);
        if (blocks.Count > addresses.Length)
        {
            var grown = new nint[addresses.Length * 2];
            addresses.CopyTo(grown, 0);
            addresses = grown; // a reader holding the old array still finds every block it knew
        }
        addresses[blocks.Count - 1] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(block));
    }

    /// <summary>One thread's working memory for a walk: visited marks, heaps, and buffers for link selection.</summary>
    private sealed class Scratch(int m0)
    {
        public readonly VisitedSet Visited = new(0);
        public MinHeap Candidates = new(64);
        public readonly MaxHeap Results = new(64);
        public readonly int[] LinkCopy = new int[m0 + 1];
        public readonly int[] HopCopy = new int[m0 + 1]; // a filtered walk's second hop, read while LinkCopy holds the first
        public readonly int[] Selected = new int[m0 + 1];
        public readonly int[] Selected2 = new int[m0 + 1];
        public float[] SortedDist = new float[64];
        public int[] SortedNode = new int[64];

        public void EnsureSorted(int n)
        {
            if (n <= SortedDist.Length) return;
            SortedDist = new float[Math.Max(n, SortedDist.Length * 2)];
            SortedNode = new int[SortedDist.Length];
        }
    }
}
