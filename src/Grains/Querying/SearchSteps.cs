using System.Diagnostics;

namespace RagCluster.Grains.Querying;

/// <summary>Where a search's time went, step by step, for the slow-search log (<see cref="QueryOptions.SlowSearchMs"/>).</summary>
internal sealed class SearchSteps(Stopwatch clock)
{
    private readonly List<(string Step, double Ms)> _steps = [];
    private double _last;

    public void Done(string step)
    {
        var now = clock.Elapsed.TotalMilliseconds;
        _steps.Add((step, now - _last));
        _last = now;
    }

    /// <summary>The shards' step, with how their dense sides ran ("shards (value-links 3, exact 1)"): which plan a filter took.</summary>
    public static string Shards(IEnumerable<Interfaces.Indexing.ShardResult> results) =>
        results.Where(r => r.Walk is not null).GroupBy(r => r.Walk).Select(g => $"{g.Key} {g.Count()}").ToList() is { Count: > 0 } walks
            ? $"shards ({string.Join(", ", walks)})" : "shards";

    public override string ToString() => string.Join(", ", _steps.Select(s => $"{s.Step} {s.Ms:F0} ms"));
}
