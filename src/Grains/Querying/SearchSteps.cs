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

    public override string ToString() => string.Join(", ", _steps.Select(s => $"{s.Step} {s.Ms:F0} ms"));
}
