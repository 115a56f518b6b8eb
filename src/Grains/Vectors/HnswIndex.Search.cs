namespace RagCluster.Grains.Vectors;

// Walking the graph, the exact scan for small shards and selective filters, and the int8 rescore.
public sealed unsafe partial class HnswIndex
{
    /// <summary>
    /// The k nearest live nodes to <paramref name="query"/>, closest first; <paramref name="accept"/> filters results.
    /// Nodes appended and not linked yet (a reload's log tail linking in the background, a write batch being linked) are
    /// compared one by one into the walk's own candidates, so a vector is found from the moment it is appended, not once
    /// its links exist; for int8 by their codes, then rescored with the rest.
    /// </summary>
    public List<(int Node, float Distance)> Search(ReadOnlySpan<float> query, int k, int ef = 0, Func<int, bool>? accept = null)
    {
        if (query.Length != Dimensions) throw new ArgumentException($"query has {query.Length} dimensions, index has {Dimensions}");
        var (ep, maxLevel) = ReadEntry();
        var (linked, count, relink) = (Volatile.Read(ref _linked), _count, _relink);
        var pending = linked < count || relink.Length > 0;
        if ((ep < 0 && !pending) || k <= 0) return [];
        Span<float> qs = query.Length <= 2048 ? stackalloc float[query.Length] : new float[query.Length];
        Span<sbyte> codes = _int8 ? (query.Length <= 2048 ? stackalloc sbyte[query.Length] : new sbyte[query.Length]) : default;
        var scale = PrepareQuery(query, qs, codes);
        ef = Math.Max(ef <= 0 ? Options.EfSearch : ef, k);
        var scratch = _scratch;
        fixed (float* qf = qs)
        fixed (sbyte* qc = codes)
        {
            void* q = _int8 ? qc : qf;
            if (ep >= 0)
            {
                var epDist = Distance(q, scale, ep);
                for (var l = maxLevel; l > 0; l--) (ep, epDist) = Greedy(q, scale, ep, epDist, l, scratch);
                SearchLayer(q, scale, ep, epDist, ef, 0, scratch, skipDeleted: true, accept);
            }
            else
            {
                scratch.Results.Clear();
                scratch.Visited.Reset();
            }
            if (pending) ScanPending(q, scale, ef, linked, count, relink, scratch, accept);
            if (_int8) return Rescored(qf, scratch.Results, k);
        }
        return Nearest(scratch.Results, k);
    }

    // The query as the walk compares it (HnswIndex.Encoding.cs: scaled, and int8 codes) in the caller's buffers; returns the scale the walk's distance takes.
    private float PrepareQuery(ReadOnlySpan<float> query, Span<float> qs, Span<sbyte> codes)
    {
        query.CopyTo(qs);
        var squared = Prepare(qs);
        return _int8 ? Quantize(qs, codes) : squared;
    }

    // The unlinked nodes, each measured once (a link pass beside may have let the walk reach some already: the visited
    // marks skip them; one a failed pass left for relinking is in both ranges for a moment).
    private void ScanPending(void* q, float scale, int ef, int from, int to, int[] relink, Scratch scratch, Func<int, bool>? accept)
    {
        var results = scratch.Results;
        for (var i = -relink.Length; i < to - from; i++)
        {
            var node = i < 0 ? relink[relink.Length + i] : from + i;
            if (!scratch.Visited.Visit(node) || _deleted[node] || (accept is not null && !accept(node))) continue;
            var d = Distance(q, scale, node);
            if (results.Count < ef) results.Push(d, node);
            else if (d < results.PeekKey())
            {
                results.Pop();
                results.Push(d, node);
            }
        }
    }

    /// <summary>The heap's <paramref name="k"/> nearest, nearest first (the heap yields the farthest first); empties it.</summary>
    private static List<(int Node, float Distance)> Nearest(MaxHeap results, int k)
    {
        while (results.Count > k) results.Pop();
        var found = new List<(int Node, float Distance)>(results.Count);
        while (results.Count > 0) { var (d, n) = results.Pop(); found.Add((n, d)); }
        found.Reverse();
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
        var squared = Prepare(qs);
        if (k <= 0) return [];
        // The k best so far in a max-heap (the worst on top): thousands of candidates cost a compare each, not a sort.
        var best = new MaxHeap(k + 1);
        var lease = _int8 ? _full!.Use() : (FullPrecisionFile.Lease?)null;
        try
        {
            fixed (float* q = qs)
            {
                foreach (var node in nodes)
                {
                    if ((uint)node >= (uint)_count || _deleted[node]) continue;
                    var v = _int8 ? _full!.Row(node) : VectorAt(node);
                    var distance = _l2 ? Math.Max(0f, squared + _scales[node] - 2f * VectorMath.Dot(q, v, Dimensions)) : 1f - VectorMath.Dot(q, v, Dimensions);
                    if (best.Count < k) best.Push(distance, node);
                    else if (distance < best.PeekKey())
                    {
                        best.Pop();
                        best.Push(distance, node);
                    }
                }
            }
        }
        finally
        {
            lease?.Dispose();
        }
        return Nearest(best, k);
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

    private (int, float) Greedy(void* q, float qs, int ep, float epDist, int level, Scratch scratch) =>
        Greedy(q, qs, ep, epDist, level, scratch, new GraphLinks(this));

    // Generic over where a node's links are read (the graph's own, or a value's: HnswIndex.Values.cs); a struct, so the
    // JIT compiles each walk on its own with the read inlined.
    private (int, float) Greedy<TLinks>(void* q, float qs, int ep, float epDist, int level, Scratch scratch, TLinks source) where TLinks : struct, ILinks
    {
        var changed = true;
        while (changed)
        {
            changed = false;
            var links = source.Read(ep, level, scratch.LinkCopy);
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
        bool skipDeleted, Func<int, bool>? accept = null) =>
        SearchLayer(q, qs, ep, epDist, ef, level, scratch, skipDeleted, accept, new GraphLinks(this));

    private void SearchLayer<TLinks>(void* q, float qs, int ep, float epDist, int ef, int level, Scratch scratch,
        bool skipDeleted, Func<int, bool>? accept, TLinks source) where TLinks : struct, ILinks
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
            var links = source.Read(c, level, scratch.LinkCopy);
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

    /// <summary>Where a walk reads a node's links on a layer.</summary>
    private interface ILinks
    {
        ReadOnlySpan<int> Read(int node, int level, int[] copy);
    }

    private readonly struct GraphLinks(HnswIndex index) : ILinks
    {
        public ReadOnlySpan<int> Read(int node, int level, int[] copy) => index.ReadLinks(node, level, copy);
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
}
