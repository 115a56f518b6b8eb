using RagCluster.Grains.Vectors;
using RagCluster.Metadata;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// How a shard finds the nearest vectors a filter keeps, chosen by what the filter keeps (counted exactly by the tag
/// index), as Qdrant's planner chooses by estimated cardinality: at most <c>Hnsw:ExactSearchThreshold</c> chunks are
/// compared one by one (an absolute count: the scan costs by what it reads, the walk does not); a filter that names a
/// few values of a linked field (the access field) walks those values' own graphs; anything else (ranges, booleans,
/// <c>$not</c>, many values) walks the main graph two hops at a time (<see cref="FilteredWalk.TwoHop"/>). A shard past
/// <c>Hnsw:LinkedWalkMaxVectors</c> walks as before those walks (<see cref="MeasureAll"/>), where they lost recall.
/// </summary>
internal readonly record struct ShardFilterPlan(string Name, FilteredWalk? Walk, int[] Values)
{
    public const string Exact = "exact", ValueLinks = "value-links", TwoHop = "two-hop", MeasureAll = "measure-all";

    /// <summary>The exact scan's bound where a shard walks by <see cref="MeasureAll"/> (the default before issue 82).</summary>
    public const int MeasureAllExactThreshold = 10_000;

    /// <summary>The values whose graphs a walk joins at most: past that, their seeds cost more than the walk they save.</summary>
    public const int MaxValues = 16;

    public static ShardFilterPlan Choose(FilterTerm filter, int matching, HnswIndex graph, IReadOnlyCollection<string> linkedFields, int exactThreshold, int ef,
        int linkedWalkMaxVectors)
    {
        // A wider walk (a caller's larger ef) costs more, so the scan stays cheaper up to proportionally more vectors.
        // Past the size where the walks among kept nodes were measured to keep recall: the walk of every node met (slower,
        // and it finds more), after a scan of more chunks than below.
        var large = graph.LiveCount > linkedWalkMaxVectors;
        var threshold = large && exactThreshold > 0 ? Math.Max(exactThreshold, MeasureAllExactThreshold) : exactThreshold;
        if (matching <= (long)threshold * Math.Max(1, ef / Math.Max(1, graph.Options.EfSearch))) return new(Exact, null, []);
        if (large) return new(MeasureAll, null, []);
        // The values' graphs hold every node the anchor keeps; walked when the rest of the filter keeps at least a quarter
        // of their members (else most nodes the walk measures are refused, and the two-hop walk does better).
        var anchor = Anchor(filter, graph, linkedFields);
        if (anchor is { Length: > 0 } values && values.Sum(v => (long)graph.ValueSize(v)) <= 4L * matching)
            return values.Length <= MaxValues ? new(ValueLinks, FilteredWalk.ValueLinks, values)
                : new(TwoHop, FilteredWalk.TwoHop, values); // too many to start from each: their lists are read as the walk meets them
        return new(TwoHop, FilteredWalk.TwoHop, []);
    }

    /// <summary>
    /// Linked values every chunk the filter keeps holds one of (a $containsAny, $eq or $in of strings on a linked field, the
    /// smallest such part of an $and, the union of an $or's), or null when the filter has none.
    /// </summary>
    private static int[]? Anchor(FilterTerm term, HnswIndex graph, IReadOnlyCollection<string> linked)
    {
        switch (term)
        {
            case ContainsTerm c when linked.Contains(c.Field):
                var ids = c.Values.Select(v => graph.ValueId(ShardValueKeys.Of(c.Field, v))).ToArray();
                // $containsAll: the smallest of its values holds all it keeps (one with no graph: nothing is kept).
                return !c.All ? [.. ids.Where(id => id >= 0).Distinct()]
                    : ids.Any(id => id < 0) ? [] : [ids.MinBy(graph.ValueSize)];
            case EqualsTerm e when linked.Contains(e.Field) && e.Values.All(l => l.Value.Kind == TagKind.String && l.Instant is null):
                return [.. e.Values.Select(l => graph.ValueId(ShardValueKeys.Of(e.Field, l.Value.String))).Where(id => id >= 0).Distinct()];
            case AnyTerm any:
                var union = new List<int>();
                foreach (var part in any.Terms)
                    if (Anchor(part, graph, linked) is { } values) union.AddRange(values);
                    else return null;
                return [.. union.Distinct()];
            case AllTerm all:
                return all.Terms.Select(part => Anchor(part, graph, linked)).Where(a => a is not null)
                    .MinBy(a => a!.Sum(v => (long)graph.ValueSize(v)));
            default:
                return null;
        }
    }
}
