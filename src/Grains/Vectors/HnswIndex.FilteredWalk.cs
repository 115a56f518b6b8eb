namespace RagCluster.Grains.Vectors;

/// <summary>How <see cref="HnswIndex.SearchFiltered"/> walks among the nodes a filter keeps.</summary>
public enum FilteredWalk
{
    /// <summary>
    /// The main graph, measuring only the nodes the filter keeps; where a node's kept neighbours are few, the neighbours
    /// of its refused ones are looked at too (ACORN-1, as Weaviate, Lucene and Qdrant walk combined conditions).
    /// </summary>
    TwoHop,
    /// <summary>The graphs of the filter's linked values (<see cref="HnswIndex.Join(int, string)"/>), walked from their entry points.</summary>
    ValueLinks,
}

// The filtered walks: what a shard does for a filter that keeps too many nodes to compare each of them.
public sealed unsafe partial class HnswIndex
{
    /// <summary>
    /// The k nearest live nodes that <paramref name="accept"/> keeps, closest first, by a walk that measures the kept nodes
    /// (and, for <see cref="FilteredWalk.ValueLinks"/>, the waypoints of the values' graphs) rather than every node it meets:
    /// a filter costs by what it keeps. Nodes not linked yet are compared one by one, as <see cref="Search"/> does.
    /// </summary>
    public List<(int Node, float Distance)> SearchFiltered(ReadOnlySpan<float> query, int k, int ef, Func<int, bool> accept, FilteredWalk walk,
        IReadOnlyList<int>? values = null)
    {
        if (query.Length != Dimensions) throw new ArgumentException($"query has {query.Length} dimensions, index has {Dimensions}");
        if ((walk == FilteredWalk.ValueLinks && values is not { Count: > 0 }) || (values?.Any(v => (uint)v >= (uint)_valueGraphs.Count) ?? false))
            throw new ArgumentException("a walk by value links names the values' ids");
        var (linked, count, relink) = (Volatile.Read(ref _linked), _count, _relink);
        if (count == 0 || k <= 0) return [];
        ef = Math.Max(ef <= 0 ? Options.EfSearch : ef, k);
        var scratch = _scratch;
        Span<float> qs = query.Length <= 2048 ? stackalloc float[query.Length] : new float[query.Length];
        Span<sbyte> codes = _int8 ? (query.Length <= 2048 ? stackalloc sbyte[query.Length] : new sbyte[query.Length]) : default;
        var scale = PrepareQuery(query, qs, codes);
        fixed (sbyte* qc = codes)
        fixed (float* qf = qs)
        {
            // The values whose lists the walk reads (a two-hop walk too: a reader of many groups reaches each node's
            // group-mates); the lists of other values a node holds lead nowhere the filter keeps more than its main links do.
            bool[]? lists = null;
            if (values is { Count: > 0 })
            {
                lists = new bool[_valueGraphs.Count];
                foreach (var v in values) lists[v] = true;
            }
            var walker = new Walker(this, _int8 ? qc : qf, scale, ef, accept, scratch, lists);
            scratch.Results.Clear();
            scratch.Visited.Reset();
            scratch.Candidates.Clear();
            if (walk == FilteredWalk.ValueLinks)
            {
                foreach (var v in values!) walker.SeedFromValue(v);
                // One value: its own lists. Several: from their seeds, each node's value lists and the main graph's kept links
                // too, the way from one value's members to another's (a walk within each alone found 0.46 of a 5-group reader's
                // nearest, measured through the API: the nearest of each group are not each other's neighbours).
                if (values.Count == 1) walker.Run(twoHop: false, values);
                else walker.Run(twoHop: true, null);
                foreach (var v in values) walker.ScanUnlinked(v);
            }
            else
            {
                walker.SeedFromGraph(linked);
                walker.Run(twoHop: true, null);
            }
            if (linked < count || relink.Length > 0) ScanPending(_int8 ? qc : qf, scale, ef, linked, count, relink, scratch, walker.Kept);
            if (_int8) return Rescored(qf, scratch.Results, k);
        }
        return Nearest(scratch.Results, k);
    }

    // How many kept neighbours an expansion looks for before it looks two hops away (ACORN-1 keeps M of them).
    private int TwoHopWanted => _m;

    /// <summary>One filtered walk's state: the query, the filter, the heaps and the bound.</summary>
    private sealed class Walker(HnswIndex index, void* q, float qs, int ef, Func<int, bool> accept, Scratch scratch, bool[]? lists)
    {
        private float _bound = float.MaxValue;
        private readonly int _count = index._count;

        public bool Kept(int node) => !index._deleted[node] && accept(node);

        // Measured, and a candidate when it may improve the results; a result when the filter keeps it.
        private void Consider(int node, bool kept)
        {
            var d = index.Distance(q, qs, node);
            var results = scratch.Results;
            if (results.Count >= ef && d >= _bound) return;
            scratch.Candidates.Push(d, node);
            if (kept)
            {
                results.Push(d, node);
                if (results.Count > ef) results.Pop();
            }
            _bound = results.Count > 0 ? results.PeekKey() : float.MaxValue;
        }

        // The main graph's upper layers lead to a node near the query; the walk starts from it if the filter keeps it, else
        // from the kept nodes nearest it by links (breadth first through refused ones, measuring none of those).
        public void SeedFromGraph(int linked)
        {
            var (ep, top) = index.ReadEntry();
            if (ep < 0) return;
            var epDist = index.Distance(q, qs, ep);
            for (var l = top; l > 0; l--) (ep, epDist) = index.Greedy(q, qs, ep, epDist, l, scratch);
            scratch.Visited.Visit(ep);
            if (Kept(ep)) { Consider(ep, kept: true); return; }
            var queue = new Queue<int>();
            var passed = new HashSet<int> { ep };
            queue.Enqueue(ep);
            var (found, expanded) = (0, 0);
            while (queue.TryDequeue(out var node) && (found == 0 || (found < index._m && expanded < 2 * index._m0)))
            {
                expanded++;
                var links = index.ReadLinks(node, 0, scratch.LinkCopy);
                for (var i = 1; i <= links[0]; i++)
                {
                    var e = links[i];
                    if ((uint)e >= (uint)linked) continue;
                    if (Kept(e))
                    {
                        if (scratch.Visited.Visit(e)) { Consider(e, kept: true); found++; }
                    }
                    else if (passed.Add(e)) queue.Enqueue(e);
                }
            }
        }

        // A value's upper layers (its own links) lead to its member nearest the query, where the walk in it starts.
        public void SeedFromValue(int value)
        {
            var graph = index._valueGraphs[value];
            var (ep, top) = graph.ReadEntry();
            if (ep < 0 || (uint)ep >= (uint)_count) return;
            var epDist = index.Distance(q, qs, ep);
            for (var l = top; l > 0; l--) (ep, epDist) = index.Greedy(q, qs, ep, epDist, l, scratch, new ValueLinks(index, graph, value));
            if (scratch.Visited.Visit(ep)) Consider(ep, Kept(ep));
        }

        public void Run(bool twoHop, IReadOnlyList<int>? values)
        {
            ref var candidates = ref scratch.Candidates;
            var results = scratch.Results;
            var visited = scratch.Visited;
            while (candidates.Count > 0)
            {
                var (cd, c) = candidates.Pop();
                if (cd > _bound && results.Count >= ef) break;
                if (twoHop)
                {
                    // The kept neighbours in the filter's values c holds (a reader of many groups: its group-mates), then in the
                    // main graph (the way from one group to another), and two hops away when the main graph's are few.
                    KeptInValues(c);
                    var kept = 0;
                    var links = index.ReadLinks(c, 0, scratch.LinkCopy);
                    for (var i = 1; i <= links[0]; i++)
                    {
                        var e = links[i];
                        if ((uint)e >= (uint)_count || !Kept(e)) continue;
                        kept++;
                        if (visited.Visit(e)) Consider(e, kept: true);
                    }
                    if (kept < index.TwoHopWanted) TwoHops(links, kept);
                    continue;
                }
                // Each linked value c holds: its list there, members and waypoints alike. The main graph's links are not
                // read: checking the filter on each of them costs more than the few kept ones they add (measured).
                foreach (var v in values!)
                {
                    var local = index.LocalOf(c, v);
                    if (local < 0) continue;
                    var list = index._valueGraphs[v].List(local, 0);
                    var n = Math.Min(Volatile.Read(ref list[0]), list.Length - 1);
                    for (var i = 1; i <= n; i++)
                    {
                        var e = list[i];
                        if ((uint)e >= (uint)_count || !visited.Visit(e)) continue;
                        if (i < n && (uint)list[i + 1] < (uint)_count) index.Prefetch(list[i + 1]);
                        Consider(e, Kept(e));
                    }
                }
            }
        }

        // Each value's list of a node's, as Qdrant's links per payload value are part of the graph every filtered walk reads.
        // At most M of them an expansion (a list starts with the node's own nearest choices): with the main graph's kept
        // links after them, an expansion measures about what an unfiltered one does (all 2M of a group's list beside the
        // main links cost a 50 % reader of 5 groups 1.48x the unfiltered walk on the index alone).
        private int KeptInValues(int c)
        {
            if (lists is null || (uint)c >= (uint)index._membership.Length) return 0;
            var kept = KeptInValue(index._membership[c], 0);
            if (index._moreMemberships[c] is { } more) foreach (var m in more) kept = KeptInValue(m, kept);
            return kept;
        }

        private int KeptInValue(long membership, int kept)
        {
            if (membership == 0 || kept >= index._m || !lists![(int)(membership >> 32) - 1]) return kept;
            var list = index._valueGraphs[(int)(membership >> 32) - 1].List((int)membership, 0);
            var n = Math.Min(Volatile.Read(ref list[0]), list.Length - 1);
            for (var i = 1; i <= n && kept < index._m; i++)
            {
                var e = list[i];
                if ((uint)e >= (uint)_count || !Kept(e) || !scratch.Visited.Visit(e)) continue;
                kept++;
                Consider(e, kept: true);
            }
            return kept;
        }

        // The kept neighbours of a node's refused neighbours, until the expansion holds TwoHopWanted kept ones.
        private void TwoHops(ReadOnlySpan<int> links, int kept)
        {
            for (var i = 1; i <= links[0]; i++)
            {
                var e = links[i];
                if ((uint)e >= (uint)_count || Kept(e) || !scratch.Visited.Visit(e)) continue; // a refused node is looked through once
                var hop = index.ReadLinks(e, 0, scratch.HopCopy);
                for (var j = 1; j <= hop[0]; j++)
                {
                    var e2 = hop[j];
                    if ((uint)e2 >= (uint)_count || !Kept(e2)) continue;
                    if (scratch.Visited.Visit(e2)) Consider(e2, kept: true);
                    if (++kept >= index.TwoHopWanted) return;
                }
            }
        }

        // Members that joined the value and are not linked in it yet: compared one by one.
        public void ScanUnlinked(int value)
        {
            var graph = index._valueGraphs[value];
            for (var local = Volatile.Read(ref graph.Linked); local < graph.Count; local++)
            {
                var node = graph.Nodes[local];
                if ((uint)node < (uint)_count && Kept(node) && scratch.Visited.Visit(node)) Consider(node, kept: true);
            }
        }
    }
}
