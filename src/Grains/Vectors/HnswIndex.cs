using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace RagCluster.Grains.Vectors;

/// <summary>How an index holds its vectors for the graph walk.</summary>
public enum VectorEncoding
{
    /// <summary>32-bit floats in memory: exact distances everywhere.</summary>
    Float32,
    /// <summary>
    /// One signed byte a dimension in memory, scaled per vector (its largest component maps to ±127): the graph is
    /// built and walked on these, a quarter of the bytes; the candidates a search ends with are rescored with the
    /// full-precision vectors, which live in a <see cref="FullPrecisionFile"/> outside the process's memory.
    /// </summary>
    Int8,
}

/// <summary>
/// Hierarchical navigable small world graph (Malkov &amp; Yashunin) over unit vectors with cosine distance
/// (1 - dot). Vectors and layer-0 links live in blocks of <see cref="BlockNodes"/> nodes that never move once
/// allocated: capacity has no 2^31-element wall, growth copies nothing, and a reader never sees an array replaced.
/// Deletes are tombstones: deleted nodes still route searches but never appear in results (<see cref="Compacted"/>
/// drops them).
/// Threads: one caller changes the index at a time. <see cref="LinkPending"/> may run on other threads (several, as
/// hnswlib does) while one other thread searches; each node's links are guarded by a spin lock while it runs.
/// </summary>
public sealed unsafe class HnswIndex : IDisposable
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

    public HnswIndex(int dimensions, HnswOptions options, int initialCapacity = 1024, VectorEncoding encoding = VectorEncoding.Float32)
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
        if (encoding == VectorEncoding.Int8)
        {
            _int8 = true;
            _scales = new float[initialCapacity];
            _full = new FullPrecisionFile(dimensions, options.FullPrecisionDirectory);
        }
    }

    public VectorEncoding Encoding { get; }

    /// <summary>Closes the int8 index's full-precision file (its space goes back to the system).</summary>
    public void Dispose() => _full?.Dispose();

    public int Dimensions { get; }
    public HnswOptions Options { get; }
    /// <summary>Nodes ever added, deleted ones included (node ids are 0..Count-1).</summary>
    public int Count => _count;
    public int LiveCount => _count - _deletedCount;
    public int DeletedCount => _deletedCount;

    public bool IsDeleted(int node) => _deleted[node];

    /// <summary>The node's vector, normalised, at full precision (an int8 index reads it from its file).</summary>
    public ReadOnlySpan<float> Vector(int node)
    {
        if (!_int8) return new(VectorAt(node), Dimensions);
        var v = new float[Dimensions];
        _full!.Read(node, v);
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float* VectorAt(int node) => (float*)_vectorBlockAddresses[node >> BlockShift] + (node & (BlockNodes - 1)) * Dimensions;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private sbyte* CodeAt(int node) => (sbyte*)_codeBlockAddresses[node >> BlockShift] + (node & (BlockNodes - 1)) * Dimensions;

    // What the walk compares with: the node's floats, or its codes and their scale.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void* PointAt(int node) => _int8 ? CodeAt(node) : VectorAt(node);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float ScaleAt(int node) => _int8 ? _scales[node] : 1f;

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
            return vectorBytes + _links0Blocks.Count * (long)BlockNodes * (_m0 + 1) * 4 + _levels.Length * 5L + upper;
        }
    }

    /// <summary>Adds a vector (normalised here) and returns its node id.</summary>
    public int Add(ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimensions) throw new ArgumentException($"vector has {vector.Length} dimensions, index has {Dimensions}");
        if (PendingCount != 0) throw new InvalidOperationException("appended nodes wait for LinkPending");
        var node = Append(vector);
        _scratch.Visited.EnsureCapacity(_count);
        Insert(node, _scratch);
        _linked = _count;
        return node;
    }

    /// <summary>
    /// Adds many vectors at once and returns the first node id (the others follow in order). With
    /// <paramref name="threads"/> above 1 the graph is built by that many threads, for bulk loads and restores.
    /// </summary>
    public int AddRange(IReadOnlyList<float[]> vectors, int threads = 1)
    {
        var first = AppendRange(vectors);
        LinkPending(threads);
        return first;
    }

    /// <summary>
    /// Stores vectors (normalised) as nodes without linking them, and returns the first node id. Searches cannot reach
    /// them until <see cref="LinkPending"/> has run; the caller can map the node ids meanwhile.
    /// </summary>
    public int AppendRange(IReadOnlyList<float[]> vectors)
    {
        foreach (var v in vectors)
            if (v.Length != Dimensions) throw new ArgumentException($"vector has {v.Length} dimensions, index has {Dimensions}");
        var first = _count;
        EnsureCapacity(_count + vectors.Count);
        foreach (var v in vectors) Append(v);
        _scratch.Visited.EnsureCapacity(_count);
        return first;
    }

    /// <summary>Nodes appended by <see cref="AppendRange"/> and not linked yet (those a stopped pass left out included).</summary>
    public int PendingCount => _count - _linked + _relink.Length;

    // Nodes of a parallel pass that stopped part-way (an exception, a cancellation) before they were linked: the next
    // pass links them first. A pass never counts a node it did not link as done.
    private int[] _relink = [];

    /// <summary>
    /// Links the appended nodes into the graph with up to <paramref name="threads"/> threads. With
    /// <paramref name="beside"/> set, one other thread may search (only search) while this runs: links are then read
    /// under the nodes' locks. Nothing else may change the index until it returns.
    /// </summary>
    public void LinkPending(int threads = 1, bool beside = false, CancellationToken cancellationToken = default)
    {
        var scratchFor = () => { var s = new Scratch(_m0); s.Visited.EnsureCapacity(_count); return s; };
        if (_relink.Length > 0) Relink(beside, scratchFor(), cancellationToken);
        var start = _linked;
        if (start == _count) return;
        threads = Math.Clamp(threads, 1, Environment.ProcessorCount);
        // Small single-threaded batches with no reader beside need no locks; the first node must exist before others can link to it.
        if (!beside && (threads == 1 || _count - start < 256))
        {
            for (var node = start; node < _count; node++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Insert(node, _scratch);
                _linked = node + 1;
            }
            return;
        }
        if (ReadEntry().Node < 0) { Insert(start, scratchFor()); _linked = ++start; }
        var linked = new bool[_count - start]; // which of this pass's nodes made it in, should it stop part-way
        _locks = new byte[_levels.Length];
        try
        {
            Parallel.For(start, _count, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = cancellationToken },
                scratchFor,
                (node, _, scratch) => { Insert(node, scratch); linked[node - start] = true; return scratch; },
                _ => { });
        }
        catch
        {
            _relink = Enumerable.Range(start, linked.Length).Where(node => !linked[node - start]).ToArray();
            throw;
        }
        finally
        {
            _linked = _count; // every node of the pass is linked or in _relink
            // A searcher beside may still hold copies it read under the locks; it never writes links, so it can finish without them.
            _locks = null;
        }
    }

    private void Relink(bool beside, Scratch scratch, CancellationToken cancellationToken)
    {
        var nodes = _relink;
        if (beside) _locks = new byte[_levels.Length];
        var i = 0;
        try
        {
            for (; i < nodes.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Insert(nodes[i], scratch);
            }
        }
        finally
        {
            _relink = nodes[i..];
            if (beside) _locks = null;
        }
    }

    /// <summary>
    /// A new index of this one's live nodes, linked afresh, and the old node id of each new node: deleted nodes
    /// otherwise hold memory and lengthen every walk that routes through them. Reads this index only, so searches and
    /// appends to this one may go on beside it (its vectors never move); a node deleted meanwhile is the caller's to
    /// delete in the new one.
    /// </summary>
    public (HnswIndex Index, int[] OldNodes) Compacted(int threads = 1, CancellationToken cancellationToken = default)
    {
        var linked = _linked;
        var live = new List<int>(LiveCount);
        for (var node = 0; node < linked; node++) if (!_deleted[node]) live.Add(node);
        var index = new HnswIndex(Dimensions, Options, live.Count, Encoding);
        index.EnsureCapacity(live.Count);
        foreach (var old in live) index.Append(Vector(old));
        index._scratch.Visited.EnsureCapacity(index._count);
        index.LinkPending(threads, cancellationToken: cancellationToken);
        return (index, live.ToArray());
    }

    // Stores the vector (normalised) and its level; the node joins the graph in Insert.
    private int Append(ReadOnlySpan<float> vector)
    {
        EnsureCapacity(_count + 1);
        var node = _count;
        if (_int8)
        {
            Span<float> unit = Dimensions <= 2048 ? stackalloc float[Dimensions] : new float[Dimensions];
            vector.CopyTo(unit);
            Normalize(unit);
            _full!.Write(node, unit);
            _scales[node] = Quantize(unit, new Span<sbyte>(CodeAt(node), Dimensions));
        }
        else
        {
            var dst = new Span<float>(VectorAt(node), Dimensions);
            vector.CopyTo(dst);
            Normalize(dst);
        }
        _count++;
        var level = LevelOf(node);
        _levels[node] = level;
        if (level > 0)
        {
            var lists = new int[]?[level];
            for (var l = 0; l < level; l++) lists[l] = new int[_m + 1];
            _upperLinks[node] = lists;
        }
        return node;
    }

    private void Insert(int node, Scratch scratch)
    {
        var level = _levels[node];
        // As hnswlib does: a node that raises the top level holds the entry lock for its whole insert, so two
        // such nodes cannot both claim the new levels.
        _entryLock.Enter();
        var (ep, maxLevel) = ReadEntry();
        var holdEntry = level > maxLevel;
        if (ep < 0)
        {
            Volatile.Write(ref _entry, Entry(node, level));
            _entryLock.Exit();
            return;
        }
        if (!holdEntry) _entryLock.Exit();
        try
        {
            var q = PointAt(node);
            var qs = ScaleAt(node);
            var epDist = Distance(q, qs, ep);
            for (var l = maxLevel; l > level; l--) (ep, epDist) = Greedy(q, qs, ep, epDist, l, scratch);

            for (var l = Math.Min(level, maxLevel); l >= 0; l--)
            {
                if (_locks is not null && l < maxLevel) (ep, epDist) = LinkedStart(q, qs, ep, epDist, l, scratch);
                SearchLayer(q, qs, ep, epDist, Options.EfConstruction, l, scratch, skipDeleted: false);
                // M links for the new node on every layer, as in the paper and hnswlib; layer 0 lists may
                // grow to 2M as later nodes link back. Selecting 2M here cost a third of the build time.
                var selected = SelectNeighbors(scratch, _m);
                SetOwnLinks(node, l, selected, scratch);
                // Next layer starts from the closest element found here (selected[0]); Connect reuses the buffers.
                ep = selected[0];
                epDist = Distance(q, qs, ep);
                selected.CopyTo(scratch.Selected2);
                foreach (var n in scratch.Selected2.AsSpan(0, selected.Length)) Connect(n, node, l, scratch);
            }
            if (holdEntry) Volatile.Write(ref _entry, Entry(node, level));
        }
        finally
        {
            if (holdEntry) _entryLock.Exit();
        }
    }

    public void Delete(int node)
    {
        if ((uint)node >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(node));
        if (_deleted[node]) return;
        _deleted[node] = true;
        _deletedCount++;
    }

    /// <summary>The k nearest live nodes to <paramref name="query"/>, closest first; <paramref name="accept"/> filters results.</summary>
    public List<(int Node, float Distance)> Search(ReadOnlySpan<float> query, int k, int ef = 0, Func<int, bool>? accept = null)
    {
        if (query.Length != Dimensions) throw new ArgumentException($"query has {query.Length} dimensions, index has {Dimensions}");
        var (ep, maxLevel) = ReadEntry();
        if (ep < 0 || k <= 0) return [];
        Span<float> qs = query.Length <= 2048 ? stackalloc float[query.Length] : new float[query.Length];
        query.CopyTo(qs);
        Normalize(qs);
        ef = Math.Max(ef <= 0 ? Options.EfSearch : ef, k);
        var scratch = _scratch;
        Span<sbyte> codes = _int8 ? (query.Length <= 2048 ? stackalloc sbyte[query.Length] : new sbyte[query.Length]) : default;
        var scale = _int8 ? Quantize(qs, codes) : 1f;
        fixed (float* qf = qs)
        fixed (sbyte* qc = codes)
        {
            void* q = _int8 ? qc : qf;
            var epDist = Distance(q, scale, ep);
            for (var l = maxLevel; l > 0; l--) (ep, epDist) = Greedy(q, scale, ep, epDist, l, scratch);
            SearchLayer(q, scale, ep, epDist, ef, 0, scratch, skipDeleted: true, accept);
            if (_int8) return Rescored(qf, scratch.Results, k);
        }
        var results = scratch.Results;
        while (results.Count > k) results.Pop();
        var found = new List<(int Node, float Distance)>(results.Count);
        while (results.Count > 0) { var (d, n) = results.Pop(); found.Add((n, d)); }
        found.Reverse(); // the heap yields the farthest first
        return found;
    }

    /// <summary>
    /// Whether comparing the query with every live vector costs no more than a walk at this breadth: a walk expands
    /// about ef nodes and measures their up to 2M layer-0 links, so a graph smaller than ef × 2M vectors is scanned,
    /// exactly and with no candidate heaps (Qdrant scans a segment under its full_scan_threshold the same way). Never for
    /// an int8 graph, whose exact rows live in a file; never above <paramref name="cap"/> (0: always walk).
    /// </summary>
    public bool ScanIsCheaperThanWalk(int k, int ef, int cap) =>
        !_int8 && LiveCount <= Math.Min(cap, Math.Max(ef <= 0 ? Options.EfSearch : ef, k) * 2 * Options.M);

    /// <summary>The <paramref name="k"/> nearest live vectors by exact distance, every one compared (see <see cref="ScanIsCheaperThanWalk"/>).</summary>
    public List<(int Node, float Distance)> SearchExact(ReadOnlySpan<float> query, int k) => SearchExact(query, k, Enumerable.Range(0, _count));

    /// <summary>
    /// The <paramref name="k"/> nearest of <paramref name="nodes"/> by exact distance, without the graph: for a filter
    /// that leaves few nodes, where a walk that skips most of what it meets can miss some of them. Full precision for an
    /// int8 index too (its file's rows).
    /// </summary>
    public List<(int Node, float Distance)> SearchExact(ReadOnlySpan<float> query, int k, IEnumerable<int> nodes)
    {
        if (query.Length != Dimensions) throw new ArgumentException($"query has {query.Length} dimensions, index has {Dimensions}");
        Span<float> qs = query.Length <= 2048 ? stackalloc float[query.Length] : new float[query.Length];
        query.CopyTo(qs);
        Normalize(qs);
        var found = new List<(int Node, float Distance)>();
        var lease = _int8 ? _full!.Use() : (FullPrecisionFile.Lease?)null;
        try
        {
            fixed (float* q = qs)
            {
                foreach (var node in nodes)
                {
                    if ((uint)node >= (uint)_count || _deleted[node]) continue;
                    var v = _int8 ? _full!.Row(node) : VectorAt(node);
                    found.Add((node, 1f - VectorMath.Dot(q, v, Dimensions)));
                }
            }
        }
        finally
        {
            lease?.Dispose();
        }
        found.Sort((a, b) => a.Distance.CompareTo(b.Distance));
        if (found.Count > k) found.RemoveRange(k, found.Count - k);
        return found;
    }

    // The int8 walk's candidates (ef of them), ranked again by exact distance to the full-precision vectors, read
    // where the file is mapped.
    private List<(int Node, float Distance)> Rescored(float* q, MaxHeap results, int k)
    {
        var exact = new List<(int Node, float Distance)>(results.Count);
        using (_full!.Use())
        {
            while (results.Count > 0)
            {
                var (_, node) = results.Pop();
                exact.Add((node, 1f - VectorMath.Dot(q, _full.Row(node), Dimensions)));
            }
        }
        exact.Sort((a, b) => a.Distance.CompareTo(b.Distance));
        if (exact.Count > k) exact.RemoveRange(k, exact.Count - k);
        return exact;
    }

    /// <summary>Codes for a unit vector: its largest component becomes ±127; returns the scale back to floats.</summary>
    private static float Quantize(ReadOnlySpan<float> unit, Span<sbyte> codes)
    {
        var max = TensorPrimitives.MaxMagnitude(unit);
        var scale = Math.Abs(max) / 127f;
        if (scale == 0) { codes.Clear(); return 0; }
        for (var i = 0; i < unit.Length; i++) codes[i] = (sbyte)Math.Clamp(MathF.Round(unit[i] / scale), -127, 127);
        return scale;
    }

    private (int, float) Greedy(void* q, float qs, int ep, float epDist, int level, Scratch scratch)
    {
        var changed = true;
        while (changed)
        {
            changed = false;
            var links = ReadLinks(ep, level, scratch.LinkCopy);
            var n = links[0];
            for (var i = 1; i <= n; i++)
            {
                var c = links[i];
                var d = Distance(q, qs, c);
                if (d < epDist) { epDist = d; ep = c; changed = true; }
            }
        }
        return (ep, epDist);
    }

    private void SearchLayer(void* q, float qs, int ep, float epDist, int ef, int level, Scratch scratch,
        bool skipDeleted, Func<int, bool>? accept = null)
    {
        var results = scratch.Results;
        results.Clear();
        var visited = scratch.Visited;
        visited.Reset();
        visited.Visit(ep);
        ref var candidates = ref scratch.Candidates;
        candidates.Clear();
        candidates.Push(epDist, ep);
        var epOk = !(skipDeleted && _deleted[ep]) && (accept is null || accept(ep));
        if (epOk) results.Push(epDist, ep);
        var bound = epOk ? epDist : float.MaxValue;

        while (candidates.Count > 0)
        {
            var (cd, c) = candidates.Pop();
            if (cd > bound && results.Count >= ef) break;
            var links = ReadLinks(c, level, scratch.LinkCopy);
            var n = links[0];
            if (n > 0) Prefetch(links[1]);
            for (var i = 1; i <= n; i++)
            {
                var e = links[i];
                if (i < n) Prefetch(links[i + 1]);
                if (!visited.Visit(e)) continue;
                var d = Distance(q, qs, e);
                if (results.Count < ef || d < bound)
                {
                    candidates.Push(d, e);
                    if ((!skipDeleted || !_deleted[e]) && (accept is null || accept(e)))
                    {
                        results.Push(d, e);
                        if (results.Count > ef) results.Pop();
                    }
                    bound = results.Count > 0 ? results.PeekKey() : float.MaxValue;
                }
            }
        }
    }

    // A node's links as of now: the live list when one thread builds, a copy taken under the node's lock when several do.
    private ReadOnlySpan<int> ReadLinks(int node, int level, int[] copy)
    {
        var links = Links(node, level);
        if (_locks is null) return links;
        LockNode(node);
        var n = links[0];
        links[..(n + 1)].CopyTo(copy);
        UnlockNode(node);
        return copy.AsSpan(0, n + 1);
    }

    // hnswlib's heuristic: keep a candidate only if it is closer to the base than to every neighbour kept so far,
    // which spreads links in different directions and keeps the graph navigable.
    private ReadOnlySpan<int> SelectNeighbors(Scratch scratch, int max)
    {
        var results = scratch.Results;
        var count = results.Count;
        scratch.EnsureSorted(count);
        for (var i = count - 1; i >= 0; i--) (scratch.SortedDist[i], scratch.SortedNode[i]) = results.Pop();
        return SelectFromSorted(scratch.SortedDist.AsSpan(0, count), scratch.SortedNode.AsSpan(0, count), max, scratch.Selected);
    }

    private ReadOnlySpan<int> SelectFromSorted(ReadOnlySpan<float> dists, ReadOnlySpan<int> nodes, int max, int[] into)
    {
        if (nodes.Length <= max)
        {
            nodes.CopyTo(into);
            return into.AsSpan(0, nodes.Length);
        }
        var kept = 0;
        for (var i = 0; i < nodes.Length && kept < max; i++)
        {
            var v = PointAt(nodes[i]);
            var vs = ScaleAt(nodes[i]);
            var good = true;
            for (var k = 0; k < kept; k++)
                if (Distance(v, vs, into[k]) < dists[i]) { good = false; break; }
            if (good) into[kept++] = nodes[i];
        }
        return into.AsSpan(0, kept);
    }

    private void SetLinks(int node, int level, ReadOnlySpan<int> neighbors)
    {
        var links = Links(node, level);
        links[0] = neighbors.Length;
        neighbors.CopyTo(links[1..]);
    }

    /// <summary>
    /// Where an insert beside others starts its search on <paramref name="level"/>: the node the layer above led to, unless
    /// that node is itself still being inserted and has no links on this layer yet (a search from it would find nothing
    /// else, and the new node would hang on it alone); then the closest of its neighbours above that has some.
    /// </summary>
    private (int, float) LinkedStart(void* q, float qs, int ep, float epDist, int level, Scratch scratch)
    {
        if (Volatile.Read(ref Links(ep, level)[0]) > 0) return (ep, epDist);
        var (best, bestDist) = (-1, float.MaxValue);
        var above = ReadLinks(ep, level + 1, scratch.LinkCopy);
        for (var i = 1; i <= above[0]; i++)
        {
            var c = above[i];
            if (Volatile.Read(ref Links(c, level)[0]) == 0) continue;
            var d = Distance(q, qs, c);
            if (d < bestDist) (best, bestDist) = (c, d);
        }
        return best < 0 ? (ep, epDist) : (best, bestDist);
    }

    /// <summary>
    /// A new node's links on one layer. When several threads link, a node inserted beside this one can reach it on a
    /// layer above (through links this node already set there), start its search on this layer here, find no links
    /// yet, and link itself in: its back-link is kept, not overwritten, or that node would lose its only way in
    /// (a two-thread build of 8,000 nodes left 0-7 of them unreachable before this).
    /// </summary>
    private void SetOwnLinks(int node, int level, ReadOnlySpan<int> selected, Scratch scratch)
    {
        LockNode(node);
        try
        {
            var links = Links(node, level);
            var early = links[0];
            if (early == 0)
            {
                SetLinks(node, level, selected);
                return;
            }
            var merged = new List<int>(selected.Length + early);
            foreach (var n in selected) merged.Add(n);
            for (var i = 1; i <= early; i++)
                if (!merged.Contains(links[i])) merged.Add(links[i]);
            var max = level == 0 ? _m0 : _m;
            if (merged.Count > max)
            {
                // Rare (few nodes link in that early): re-select the way a full list is, by the heuristic.
                var baseVec = PointAt(node);
                var baseScale = ScaleAt(node);
                var nodes = merged.ToArray();
                var dists = new float[nodes.Length];
                for (var i = 0; i < nodes.Length; i++) dists[i] = Distance(baseVec, baseScale, nodes[i]);
                Array.Sort(dists, nodes);
                merged = [.. SelectFromSorted(dists, nodes, max, new int[max])];
            }
            links[0] = merged.Count;
            merged.CopyTo(links[1..]);
        }
        finally
        {
            UnlockNode(node);
        }
    }

    private void Connect(int from, int to, int level, Scratch scratch)
    {
        LockNode(from);
        try
        {
            var links = Links(from, level);
            var max = level == 0 ? _m0 : _m;
            var n = links[0];
            if (n < max)
            {
                links[n + 1] = to;
                links[0] = n + 1;
                return;
            }
            // Full: re-select among the old links plus the new one.
            var baseVec = PointAt(from);
            var baseScale = ScaleAt(from);
            scratch.EnsureSorted(n + 1);
            var dists = scratch.SortedDist.AsSpan(0, n + 1);
            var nodes = scratch.SortedNode.AsSpan(0, n + 1);
            for (var i = 0; i < n; i++) { nodes[i] = links[i + 1]; dists[i] = Distance(baseVec, baseScale, nodes[i]); }
            nodes[n] = to;
            dists[n] = Distance(baseVec, baseScale, to);
            dists.Sort(nodes);
            var selected = SelectFromSorted(dists, nodes, max, scratch.Selected);
            links[0] = selected.Length;
            selected.CopyTo(links[1..]);
        }
        finally
        {
            UnlockNode(from);
        }
    }

    private void LockNode(int node)
    {
        if (_locks is not { } locks) return;
        ref var l = ref locks[node];
        if (Interlocked.CompareExchange(ref l, 1, 0) == 0) return;
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref l, 1, 0) != 0) spin.SpinOnce();
    }

    private void UnlockNode(int node)
    {
        if (_locks is { } locks) Volatile.Write(ref locks[node], 0);
    }

    private Span<int> Links(int node, int level) =>
        level == 0 ? _links0Blocks[node >> BlockShift].AsSpan((node & (BlockNodes - 1)) * (_m0 + 1), _m0 + 1) : _upperLinks[node]![level - 1];

    // One branch on a field that never changes: the JIT keeps both paths tight, and the float path is as it was.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float Distance(void* q, float qs, int node) => _int8
        ? 1f - qs * _scales[node] * VectorMath.Dot((sbyte*)q, CodeAt(node), Dimensions)
        : 1f - VectorMath.Dot((float*)q, VectorAt(node), Dimensions);

    // A node's layer comes from a hash of (seed, node id), not from a running random generator, so a graph
    // restored from a snapshot and then extended grows exactly as the original would have.
    private int LevelOf(int node)
    {
        var z = (ulong)Options.Seed * 0x9E3779B97F4A7C15UL + (ulong)node + 1;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        var uniform = ((z >> 11) + 0.5) / (1UL << 53); // in (0, 1)
        return (int)(-Math.Log(uniform) * _levelMult);
    }

    // Ask for the first cache lines of a vector ahead of use: the graph walk is memory-bound once vectors
    // outgrow the cache (100k x 384 floats is 150 MB), and the hardware prefetcher cannot guess the next node.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Prefetch(int node)
    {
        if (!Sse.IsSupported) return;
        if (_int8)
        {
            // A code is a quarter of a vector (6 cache lines at 384-d): all of it is asked for, and its scale.
            var c = (byte*)CodeAt(node);
            for (var line = 0; line < Dimensions; line += 64) Sse.Prefetch0(c + line);
            fixed (float* s = &_scales[node]) Sse.Prefetch0(s);
            return;
        }
        var p = (byte*)VectorAt(node);
        Sse.Prefetch0(p);
        Sse.Prefetch0(p + 64);
    }

    public static void Normalize(Span<float> v)
    {
        var norm = TensorPrimitives.Norm(v);
        if (norm > 0 && Math.Abs(norm - 1f) > 1e-6f) TensorPrimitives.Divide(v, norm, v);
    }

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
        if (_int8) Array.Resize(ref _scales, newCap);
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

    // ---- persistence: the graph is saved as is, so a restore costs a read, not a rebuild ----

    public void Save(BinaryWriter w)
    {
        w.Write(_int8 ? 3 : 2); // format version: 3 is int8 (codes and scales, then the full-precision vectors at the end)
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
        if (!_int8) return;
        var row = new float[Dimensions];
        for (var i = 0; i < _count; i++)
        {
            _full!.Read(i, row);
            w.Write(MemoryMarshal.AsBytes(row.AsSpan()));
        }
    }

    public static HnswIndex Load(BinaryReader r, HnswOptions? searchOptions = null)
    {
        var format = r.ReadInt32();
        if (format is not (2 or 3)) throw new InvalidDataException("unknown HNSW snapshot format");
        var dims = r.ReadInt32();
        var options = new HnswOptions { M = r.ReadInt32(), EfConstruction = r.ReadInt32(), EfSearch = r.ReadInt32(), Seed = r.ReadInt32() };
        if (searchOptions is not null) (options.EfSearch, options.FullPrecisionDirectory) = (searchOptions.EfSearch, searchOptions.FullPrecisionDirectory);
        var count = r.ReadInt32();
        if (dims <= 0 || count < 0) throw new InvalidDataException("corrupt HNSW snapshot header");
        var index = new HnswIndex(dims, options, count, format == 3 ? VectorEncoding.Int8 : VectorEncoding.Float32);
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

/// <summary>A collection's "quantization" setting, as the shards' graphs hold vectors.</summary>
public static class Quantizations
{
    public const string Float32 = "float32", Int8 = "int8";

    public static VectorEncoding Encoding(string? quantization) => Normalize(quantization) switch
    {
        Float32 => VectorEncoding.Float32,
        Int8 => VectorEncoding.Int8,
        _ => throw new RagCluster.Grains.Interfaces.Errors.InvalidRequestException($"quantization must be \"{Float32}\" or \"{Int8}\", not \"{quantization}\""),
    };

    public static string Name(VectorEncoding encoding) => encoding == VectorEncoding.Int8 ? Int8 : Float32;

    public static string Normalize(string? quantization) => quantization is null or "" or "none" ? Float32 : quantization;
}
