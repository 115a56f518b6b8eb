namespace RagCluster.Grains.Vectors;

// Building the graph: appending vectors, linking them (by several threads for bulk loads), deletes and compaction.
public sealed unsafe partial class HnswIndex
{
    /// <summary>Adds a vector (normalised here) and returns its node id.</summary>
    public int Add(ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimensions) throw new ArgumentException($"vector has {vector.Length} dimensions, index has {Dimensions}");
        if (GraphPending != 0) throw new InvalidOperationException("appended nodes wait for LinkPending");
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

    /// <summary>
    /// Nodes appended by <see cref="AppendRange"/> and not linked yet (those a stopped pass left out included), and
    /// memberships of values (<see cref="Join(int, string)"/>) whose links are not made yet.
    /// </summary>
    public int PendingCount => GraphPending + _valuePending;

    private int GraphPending => _count - _linked + _relink.Length;

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
        LinkGraph(threads, beside, cancellationToken);
        // The values' links after the main graph's: a new member's walk in its value starts from nodes linked there.
        LinkValues(threads, cancellationToken);
    }

    private void LinkGraph(int threads, bool beside, CancellationToken cancellationToken)
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
        (_passStart, _passSelected) = (start, new int[(_count - start) * (_m + 1)]);
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
            try
            {
                // Mended while the pass's nodes are still scanned exactly: a node no link reaches yet must not leave the
                // scan before it is reachable (a search beside missed one so, once in a loaded run of the unit tests).
                if (_relink.Length == 0) LinkWeaklyHeld(start, _count, _passSelected!);
            }
            finally
            {
                _linked = _count; // every node of the pass is linked or in _relink
                _passSelected = null;
                // A searcher beside may still hold copies it read under the locks; it never writes links, so it can finish without them.
                _locks = null;
            }
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
    public (HnswIndex Index, int[] OldNodes) Compacted(int threads = 1, CancellationToken cancellationToken = default) =>
        Compacted(threads, null, cancellationToken);

    /// <summary>
    /// <see cref="Compacted(int, CancellationToken)"/> with the values' graphs built again too, from
    /// <paramref name="values"/> (<see cref="ValuesHeld"/>, taken where nothing changes the index).
    /// </summary>
    public (HnswIndex Index, int[] OldNodes) Compacted(int threads, IReadOnlyDictionary<int, string[]>? values, CancellationToken cancellationToken = default)
    {
        var linked = _linked;
        var live = new List<int>(LiveCount);
        for (var node = 0; node < linked; node++) if (!_deleted[node]) live.Add(node);
        var index = new HnswIndex(Dimensions, Options, live.Count, Encoding, Metric);
        index.EnsureCapacity(live.Count);
        foreach (var old in live) index.Append(Vector(old));
        index._scratch.Visited.EnsureCapacity(index._count);
        index.LinkPending(threads, cancellationToken: cancellationToken);
        if (values is not null)
        {
            for (var node = 0; node < live.Count; node++)
                if (values.TryGetValue(live[node], out var keys)) foreach (var key in keys) index.Join(node, key);
            index.LinkPending(threads, cancellationToken: cancellationToken);
        }
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
            var squared = Prepare(dst);
            if (_l2) _scales[node] = squared;
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
                var selected = SelectNeighbors(scratch, _m, node);
                SetOwnLinks(node, l, selected, scratch);
                if (l == 0 && _passSelected is { } chosen && node >= _passStart)
                {
                    chosen[(node - _passStart) * (_m + 1)] = selected.Length;
                    selected.CopyTo(chosen.AsSpan((node - _passStart) * (_m + 1) + 1));
                }
                // Next layer starts from the closest element found here (selected[0]); Connect reuses the buffers.
                if (selected.Length > 0) (ep, epDist) = (selected[0], Distance(q, qs, selected[0]));
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
        LeaveAll(node);
    }

    // hnswlib's heuristic: keep a candidate only if it is closer to the base than to every neighbour kept so far,
    // which spreads links in different directions and keeps the graph navigable.
    // A walk beside other threads may find the node itself (once another has linked to it): it is never its own neighbour.
    private ReadOnlySpan<int> SelectNeighbors(Scratch scratch, int max, int self)
    {
        var results = scratch.Results;
        var count = results.Count;
        scratch.EnsureSorted(count);
        var at = count;
        while (results.Count > 0)
        {
            var (dist, node) = results.Pop();
            if (node != self) (scratch.SortedDist[--at], scratch.SortedNode[at]) = (dist, node);
        }
        return SelectFromSorted(scratch.SortedDist.AsSpan(at, count - at), scratch.SortedNode.AsSpan(at, count - at), max, scratch.Selected);
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
    /// (unreachable nodes are what a parallel build without this leaves).
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
            AddLink(Links(from, level), from, to, level == 0 ? _m0 : _m, scratch);
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
}
