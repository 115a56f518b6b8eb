namespace RagCluster.Grains.Vectors;

// After a parallel pass: mending the nodes it left weakly held, and (for tests) which nodes no walk can reach.
public sealed unsafe partial class HnswIndex
{
    // A parallel pass's layer-0 choices, per node [count, n1..nM], for LinkWeaklyHeld.
    private int _passStart;
    private int[]? _passSelected;

    /// <summary>
    /// Mends what a parallel pass does that one thread does not (a test harness: 5 nodes in 16 two-thread builds of 8,000
    /// found by no search of their own vector, ef 400, 2 of them reachable by no walk at all; one thread, none; after this,
    /// 1 node in 32 builds, reachable). A node whose walk on layer 0 began at a node of the pass with no links there yet
    /// chose few neighbours: it walks again. Two nodes inserted at once do not see each other, and a neighbour that later
    /// re-selects its full list may keep the one and drop the other: a node none of its chosen neighbours holds joins the
    /// nearest one's list.
    /// </summary>
    private void LinkWeaklyHeld(int start, int end, int[] chosen)
    {
        var entry = ReadEntry().Node;
        Scratch? scratch = null;
        for (var node = start; node < end; node++)
        {
            var k = (node - start) * (_m + 1);
            if (node == entry) continue;
            // Its walk on layer 0 began at a node of the pass with no links there yet and found few others: walked again
            // now that the pass is linked, as one thread would have.
            if (chosen[k] < Math.Min(_m, start))
            {
                Reinsert0(node, scratch ??= NewScratch());
                continue;
            }
            var heldBack = false;
            for (var i = 1; i <= chosen[k] && !heldBack; i++) heldBack = Holds(chosen[k + i], node);
            if (heldBack) continue;
            var q = PointAt(node);
            var qs = ScaleAt(node);
            var near = new List<(float Distance, int Node)>(chosen[k]);
            for (var i = 1; i <= chosen[k]; i++) near.Add((Distance(q, qs, chosen[k + i]), chosen[k + i]));
            near.Sort();
            // The nearest chosen neighbour with room takes it; when all are full, the nearest gives up its farthest link
            // that another of its own neighbours also holds, so that node keeps a way in nearby.
            var room = near.FindIndex(n => Links(n.Node, 0)[0] < _m0);
            var target = room >= 0 ? near[room].Node : near[0].Node;
            LockNode(target); // a search beside reads lists under the locks
            try
            {
                var links = Links(target, 0);
                if (links[0] < _m0) { links[++links[0]] = node; continue; }
                var baseVec = PointAt(target);
                var baseScale = ScaleAt(target);
                var (drop, far) = (-1, float.MinValue);
                for (var i = 1; i <= links[0]; i++)
                {
                    var d = Distance(baseVec, baseScale, links[i]);
                    if (d <= far) continue;
                    var alsoHeld = false;
                    for (var j = 1; j <= links[0] && !alsoHeld; j++) alsoHeld = j != i && Holds(links[j], links[i]);
                    if (alsoHeld) (drop, far) = (i, d);
                }
                if (drop > 0) links[drop] = node;
            }
            finally
            {
                UnlockNode(target);
            }
        }
    }

    private Scratch NewScratch()
    {
        var scratch = new Scratch(_m0);
        scratch.Visited.EnsureCapacity(_count);
        return scratch;
    }

    // Layer 0 of an insert again for a node already in the graph: its own links merged with what the walk finds now.
    private void Reinsert0(int node, Scratch scratch)
    {
        var (ep, maxLevel) = ReadEntry();
        var q = PointAt(node);
        var qs = ScaleAt(node);
        var epDist = Distance(q, qs, ep);
        for (var l = maxLevel; l > 0; l--) (ep, epDist) = Greedy(q, qs, ep, epDist, l, scratch);
        SearchLayer(q, qs, ep, epDist, Options.EfConstruction, 0, scratch, skipDeleted: false);
        var found = SelectNeighbors(scratch, _m, node).ToArray();
        if (found.Length == 0) return;
        SetOwnLinks(node, 0, found, scratch);
        foreach (var n in found) if (!Holds(n, node)) Connect(n, node, 0, scratch);
    }

    private bool Holds(int list, int node)
    {
        var links = Links(list, 0);
        for (var i = 1; i <= links[0]; i++) if (links[i] == node) return true;
        return false;
    }

    /// <summary>Nodes whose own list on layer 0 names themselves (a link that leads nowhere and takes a neighbour's place).</summary>
    internal int SelfLinkedOnLayer0() => Enumerable.Range(0, _linked).Count(node => Holds(node, node));

    /// <summary>Linked nodes (deleted ones included) that no walk on layer 0 from the entry point reaches.</summary>
    internal List<int> UnreachableOnLayer0()
    {
        var (entry, _) = ReadEntry();
        var seen = new bool[_linked];
        var unreachable = new List<int>();
        if (entry < 0) return unreachable;
        var stack = new Stack<int>();
        seen[entry] = true;
        stack.Push(entry);
        while (stack.TryPop(out var node))
        {
            var links = Links(node, 0);
            for (var i = 1; i <= links[0]; i++)
                if (links[i] < _linked && !seen[links[i]]) { seen[links[i]] = true; stack.Push(links[i]); }
        }
        for (var node = 0; node < _linked; node++) if (!seen[node]) unreachable.Add(node);
        return unreachable;
    }
}
