namespace RagCluster.Grains.Vectors;

// Links per value: each value of a linked tag field (an access group, a keyword) has a graph of its own over the nodes
// that hold it, as Qdrant links each indexed payload value's points, so a filter on a few values walks among what it
// keeps however few that is. A value's graph is a small HNSW: its members keep their levels in the main graph, and its
// lists hold node ids. Written by hand: no library here links a graph per value (hnswlib and USearch filter a walk only).
public sealed unsafe partial class HnswIndex
{
    private readonly List<ValueGraph> _valueGraphs = [];
    private readonly Dictionary<string, int> _valueIds = new(StringComparer.Ordinal);
    // A node's memberships, (value + 1) << 32 | local: the first inline, the rest (a node in several groups) in an array.
    private long[] _membership = [];
    private long[]?[] _moreMemberships = [];
    private int _valuePending, _valueMembers, _valueGone;

    /// <summary>Values with a graph of their own (their ids are 0..ValueCount-1).</summary>
    public int ValueCount => _valueGraphs.Count;
    /// <summary>(node, value) memberships held, those left or deleted included (they route walks until a compaction).</summary>
    public int ValueMembers => _valueMembers;
    /// <summary>Memberships whose node left the value (a tag change) or was deleted: routing only, dropped by a compaction.</summary>
    public int GoneValueMembers => _valueGone;

    /// <summary>The id of the value named <paramref name="key"/>, or -1 when no node ever joined it.</summary>
    public int ValueId(string key) => _valueIds.GetValueOrDefault(key, -1);

    /// <summary>Nodes holding the value now (members that left it or were deleted not counted).</summary>
    public int ValueSize(int value) => _valueGraphs[value].Count - _valueGraphs[value].GoneCount;

    /// <summary>
    /// Makes <paramref name="node"/> a member of the value <paramref name="key"/>: its links there are made by the next
    /// <see cref="LinkPending"/> (a search finds it meanwhile by comparing it exactly). Rejoining a value it left keeps its links.
    /// </summary>
    public void Join(int node, string key)
    {
        if ((uint)node >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(node));
        if (_deleted[node]) return;
        if (!_valueIds.TryGetValue(key, out var value))
        {
            _valueIds[key] = value = _valueGraphs.Count;
            _valueGraphs.Add(new ValueGraph(key, ValueM0, _m));
        }
        var graph = _valueGraphs[value];
        var local = LocalOf(node, value);
        if (local >= 0)
        {
            if (graph.Gone[local]) { graph.Gone[local] = false; graph.GoneCount--; _valueGone--; }
            return;
        }
        local = graph.Add(node, _levels[node]);
        AddMembership(node, value, local);
        _valuePending++;
        _valueMembers++;
    }

    /// <summary>The node no longer holds the value: it stays in the value's graph as a waypoint (as a deleted node does in the main one) until a compaction.</summary>
    public void Leave(int node, string key)
    {
        if (_valueIds.TryGetValue(key, out var value) && LocalOf(node, value) is >= 0 and var local) MarkGone(value, local);
    }

    private void MarkGone(int value, int local)
    {
        var graph = _valueGraphs[value];
        if (graph.Gone[local]) return;
        graph.Gone[local] = true;
        graph.GoneCount++;
        _valueGone++;
    }

    /// <summary>The keys of the values <paramref name="node"/> holds now.</summary>
    public IEnumerable<string> ValuesOf(int node)
    {
        if ((uint)node >= (uint)_membership.Length) yield break;
        foreach (var (value, local) in Memberships(node))
            if (!_valueGraphs[value].Gone[local]) yield return _valueGraphs[value].Key;
    }

    /// <summary>Each live node's values now, for a compaction that runs beside later changes.</summary>
    public Dictionary<int, string[]> ValuesHeld()
    {
        var held = new Dictionary<int, string[]>();
        for (var node = 0; node < Math.Min(_count, _membership.Length); node++)
            if (_membership[node] != 0 && !_deleted[node] && ValuesOf(node).ToArray() is { Length: > 0 } keys) held[node] = keys;
        return held;
    }

    // A deleted node leaves every value it held.
    private void LeaveAll(int node)
    {
        if ((uint)node >= (uint)_membership.Length) return;
        foreach (var (value, local) in Memberships(node)) MarkGone(value, local);
    }

    private List<(int Value, int Local)> Memberships(int node)
    {
        var found = new List<(int, int)>(1);
        if (_membership[node] is var first and not 0) found.Add(((int)(first >> 32) - 1, (int)first));
        if (_moreMemberships[node] is { } more) foreach (var m in more) found.Add(((int)(m >> 32) - 1, (int)m));
        return found;
    }

    /// <summary>The node's index in the value's graph, or -1 when it never joined it.</summary>
    private int LocalOf(int node, int value)
    {
        if ((uint)node >= (uint)_membership.Length) return -1;
        var tag = (long)(value + 1) << 32;
        var first = _membership[node];
        if ((first & ~0xFFFFFFFFL) == tag) return (int)first;
        if (_moreMemberships[node] is { } more)
            foreach (var m in more)
                if ((m & ~0xFFFFFFFFL) == tag) return (int)m;
        return -1;
    }

    private void AddMembership(int node, int value, int local)
    {
        if (_membership.Length < _levels.Length)
        {
            Array.Resize(ref _membership, _levels.Length);
            Array.Resize(ref _moreMemberships, _levels.Length);
        }
        var packed = ((long)(value + 1) << 32) | (uint)local;
        if (_membership[node] == 0) { _membership[node] = packed; return; }
        var more = _moreMemberships[node];
        _moreMemberships[node] = more is null ? [packed] : [.. more, packed]; // replaced whole: a reader never sees it half-written
    }

    private long ValueBytes()
    {
        long bytes = _membership.Length * 16L;
        foreach (var g in _valueGraphs) bytes += g.Bytes;
        return bytes;
    }

    // Links the members that joined since the last pass, a value a thread at a time (values share no lists, so no locks);
    // a search beside reads lists as they are written, every entry a node id, and checks what it reads.
    private void LinkValues(int threads, CancellationToken cancellationToken)
    {
        if (_valuePending == 0) return;
        var todo = _valueGraphs.Select((g, value) => (g, value)).Where(x => x.g.Linked < x.g.Count).ToList();
        Parallel.ForEach(todo, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads), CancellationToken = cancellationToken },
            NewScratch, (x, _, scratch) =>
            {
                var (graph, value) = x;
                while (graph.Linked < graph.Count)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    LinkMember(graph, value, graph.Linked, scratch);
                    Interlocked.Decrement(ref _valuePending);
                    Volatile.Write(ref graph.Linked, graph.Linked + 1);
                }
                return scratch;
            }, _ => { });
    }

    // An HNSW insert within one value's graph (one thread a graph).
    private void LinkMember(ValueGraph graph, int value, int local, Scratch scratch)
    {
        var node = graph.Nodes[local];
        var level = graph.Levels(local);
        var (ep, top) = graph.ReadEntry();
        if (ep < 0)
        {
            graph.SetEntry(node, level);
            return;
        }
        var source = new ValueLinks(this, graph, value);
        var q = PointAt(node);
        var qs = ScaleAt(node);
        var epDist = Distance(q, qs, ep);
        for (var l = top; l > level; l--) (ep, epDist) = Greedy(q, qs, ep, epDist, l, scratch, source);
        for (var l = Math.Min(level, top); l >= 0; l--)
        {
            SearchLayer(q, qs, ep, epDist, Math.Min(Options.EfConstruction, ValueEfConstruction), l, scratch, skipDeleted: false, null, source);
            var selected = SelectNeighbors(scratch, _m, node);
            var own = graph.List(local, l);
            selected.CopyTo(own[1..]);
            Volatile.Write(ref own[0], selected.Length);
            if (selected.Length > 0) (ep, epDist) = (selected[0], Distance(q, qs, selected[0]));
            selected.CopyTo(scratch.Selected2);
            foreach (var n in scratch.Selected2.AsSpan(0, selected.Length))
                if (LocalOf(n, value) is >= 0 and var at) AddLink(graph.List(at, l), n, node, l == 0 ? ValueM0 : _m, scratch);
        }
        if (level > top) graph.SetEntry(node, level);
    }

    // A member's links in a value on layer 0: 2M as in the main graph (M measured 7-9 % less recall at 1 % and 10 %: docs/filters.md);
    // a snapshot says its own.
    private int ValueM0 => _valueM0 ??= _m0;
    private int? _valueM0;

    // Half the main graph's breadth: a value's graph is smaller, and its links are built beside the main ones, so a
    // load with links costs at most twice one without (measured in docs/filters.md).
    private const int ValueEfConstruction = 100;

    /// <summary>
    /// Adds <paramref name="to"/> to <paramref name="from"/>'s list, or when it is full re-selects among the old links
    /// and the new one (the heuristic). Entries are written before the count, every one a node id: a reader mid-write
    /// sees an old neighbour or a new one.
    /// </summary>
    private void AddLink(Span<int> links, int from, int to, int max, Scratch scratch)
    {
        var n = links[0];
        if (n < max)
        {
            links[n + 1] = to;
            Volatile.Write(ref links[0], n + 1);
            return;
        }
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
        selected.CopyTo(links[1..]);
        Volatile.Write(ref links[0], selected.Length);
    }

    /// <summary>A value's lists read by node: a node that is not (or not yet, as a reader sees it) a member has none.</summary>
    private readonly struct ValueLinks(HnswIndex index, ValueGraph graph, int value) : ILinks
    {
        public ReadOnlySpan<int> Read(int node, int level, int[] copy)
        {
            var local = index.LocalOf(node, value);
            if (local < 0 || local >= graph.Count || level > graph.Levels(local)) return [0];
            var list = graph.List(local, level);
            var n = Math.Min(Volatile.Read(ref list[0]), list.Length - 1);
            list[..(n + 1)].CopyTo(copy);
            copy[0] = n;
            return copy.AsSpan(0, n + 1);
        }
    }

    /// <summary>One value's graph: its members by local index (the order they joined), their lists, and its entry point.</summary>
    private sealed class ValueGraph(string key, int m0, int m)
    {
        public readonly string Key = key;
        public int[] Nodes = new int[4];
        public bool[] Gone = new bool[4];
        public int[] Links0 = new int[4 * (m0 + 1)];
        public int[][]?[] Upper = new int[][]?[4];
        public int Count, Linked, GoneCount;
        private long _entry = Entry(-1, -1);

        public int Levels(int local) => Upper[local]?.Length ?? 0;

        public (int Node, int Level) ReadEntry()
        {
            var e = Volatile.Read(ref _entry);
            return ((int)e, (int)(e >> 32));
        }

        public void SetEntry(int node, int level) => Volatile.Write(ref _entry, Entry(node, level));

        public Span<int> List(int local, int level) => level == 0 ? Links0.AsSpan(local * (m0 + 1), m0 + 1) : Upper[local]![level - 1];

        public int Add(int node, int level)
        {
            if (Count == Nodes.Length)
            {
                var size = Count * 2;
                Array.Resize(ref Nodes, size);
                Array.Resize(ref Gone, size);
                Array.Resize(ref Links0, size * (m0 + 1));
                Array.Resize(ref Upper, size);
            }
            Nodes[Count] = node;
            Upper[Count] = level == 0 ? null : Enumerable.Range(0, level).Select(_ => new int[m + 1]).ToArray();
            return Count++;
        }

        public long Bytes => Nodes.Length * (5L + 8 + (m0 + 1) * 4L) + Upper.Take(Count).Sum(u => u is null ? 0 : 32 + u.Length * (24 + (m + 1) * 4L));

        public void Save(BinaryWriter w)
        {
            w.Write(Key);
            w.Write(Count);
            var (entry, top) = ReadEntry();
            w.Write(entry); w.Write(top);
            for (var i = 0; i < Count; i++) { w.Write(Nodes[i]); w.Write(Gone[i]); }
            w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Links0.AsSpan(0, Count * (m0 + 1))));
            for (var i = 0; i < Count; i++)
            {
                w.Write((byte)Levels(i));
                for (var l = 1; l <= Levels(i); l++)
                {
                    var list = Upper[i]![l - 1];
                    w.Write(list[0]);
                    for (var j = 1; j <= list[0]; j++) w.Write(list[j]);
                }
            }
        }

        public static ValueGraph Load(BinaryReader r, int m0, int m, int nodeCount)
        {
            var graph = new ValueGraph(r.ReadString(), m0, m);
            var count = r.ReadInt32();
            if (count < 0 || count > nodeCount) throw new InvalidDataException("corrupt HNSW snapshot value links");
            var (entry, top) = (r.ReadInt32(), r.ReadInt32());
            var size = Math.Max(4, count);
            (graph.Nodes, graph.Gone, graph.Links0, graph.Upper) = (new int[size], new bool[size], new int[size * (m0 + 1)], new int[][]?[size]);
            for (var i = 0; i < count; i++)
            {
                graph.Nodes[i] = r.ReadInt32();
                if ((uint)graph.Nodes[i] >= (uint)nodeCount) throw new InvalidDataException("corrupt HNSW snapshot value links");
                if (graph.Gone[i] = r.ReadBoolean()) graph.GoneCount++;
            }
            ReadExactly(r, System.Runtime.InteropServices.MemoryMarshal.AsBytes(graph.Links0.AsSpan(0, count * (m0 + 1))));
            for (var i = 0; i < count; i++)
            {
                var levels = r.ReadByte();
                if (levels == 0) continue;
                var lists = new int[levels][];
                for (var l = 0; l < levels; l++)
                {
                    var n = r.ReadInt32();
                    if (n < 0 || n > m) throw new InvalidDataException("corrupt HNSW snapshot value links");
                    var list = new int[m + 1];
                    list[0] = n;
                    for (var j = 1; j <= n; j++) list[j] = r.ReadInt32();
                    lists[l] = list;
                }
                graph.Upper[i] = lists;
            }
            (graph.Count, graph.Linked) = (count, count);
            graph.SetEntry(entry, top);
            return graph;
        }
    }

    /// <summary>Nodes holding the value now that no walk of its layer-0 lists from its entry reaches (waypoints walked through).</summary>
    internal List<int> UnreachableInValue(string key)
    {
        var value = ValueId(key);
        if (value < 0) return [];
        var graph = _valueGraphs[value];
        var seen = new HashSet<int>();
        var (entry, _) = graph.ReadEntry();
        var stack = new Stack<int>();
        if (entry >= 0) { seen.Add(entry); stack.Push(entry); }
        while (stack.TryPop(out var node))
        {
            var list = graph.List(LocalOf(node, value), 0);
            for (var i = 1; i <= list[0]; i++)
                if (seen.Add(list[i])) stack.Push(list[i]);
        }
        return [.. Enumerable.Range(0, graph.Count).Where(l => !graph.Gone[l] && !seen.Contains(graph.Nodes[l])).Select(l => graph.Nodes[l])];
    }

    private void SaveValues(BinaryWriter w)
    {
        w.Write(_valueGraphs.Count);
        w.Write(ValueM0); // the lists' width on layer 0, so a later width still reads these
        foreach (var g in _valueGraphs) g.Save(w);
    }

    private void LoadValues(BinaryReader r)
    {
        var graphs = r.ReadInt32();
        var m0 = r.ReadInt32();
        if (m0 is < 1 or > 1024) throw new InvalidDataException("corrupt HNSW snapshot value links");
        _valueM0 = m0;
        for (var value = 0; value < graphs; value++)
        {
            var graph = ValueGraph.Load(r, m0, _m, _count);
            _valueIds[graph.Key] = value;
            _valueGraphs.Add(graph);
            for (var local = 0; local < graph.Count; local++) AddMembership(graph.Nodes[local], value, local);
            (_valueMembers, _valueGone) = (_valueMembers + graph.Count, _valueGone + graph.GoneCount);
        }
    }
}
