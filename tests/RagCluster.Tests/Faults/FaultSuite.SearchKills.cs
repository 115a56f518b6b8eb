using System.Text.RegularExpressions;

namespace RagCluster.Tests.Faults;

public sealed partial class FaultSuite
{
    /// <summary>
    /// Phase 3: searches of the bulk collection, and kill -9 of each plain silo in turn, each restarted before the next is
    /// killed. With copies on other silos (issue 60) no search may wait on the dead one: the slowest search in the
    /// window after each kill is asserted (<see cref="SlowestAfterKillMs"/>, as the API silo timed it: this machine's 2
    /// cores also run the other silos, PostgreSQL and this test, whose pauses are not the cluster's), and its p99 reported.
    /// </summary>
    private async Task KillEachSiloUnderSearchAsync()
    {
        for (var i = 0; i < FaultCluster.PlainSilos; i++)
        {
            var silo = i;
            var slowBefore = SlowSearches().Count;
            var (requests, search, fault) = await SearchThroughAsync(() => _cluster.KillSiloAsync(silo), TimeSpan.FromSeconds(3), size.AfterKill);
            var check = await CheckAsync("bulk", null, requests, BulkIds);
            var result = Result($"3. kill -9 of silo {silo + 1} of {FaultCluster.PlainSilos} under search load", requests, null, search, check,
                requests.RecoverySince(fault), $"searches {size.AfterKill.TotalSeconds:F0} s after the kill");
            var (client, server) = search.TookSince(fault, size.AfterKill);
            Add(result with
            {
                SearchesTook = client,
                ServerTook = server,
                SlowestAllowedMs = replicationFactor > 1 ? SlowestAfterKillMs : null,
                UncopiedSearchClients = replicationFactor > 1 ? null : SearchClients,
            });
            // Where the slowest searches' time went, as the API silo logged them (Query:SlowSearchMs).
            foreach (var line in SlowSearches().Skip(slowBefore).OrderByDescending(l => double.Parse(Regex.Match(l, @": (\d+) ms").Groups[1].Value)).Take(3))
                log($"   {line}");
            await _cluster.RestartSiloAsync(silo);
        }
    }

    private List<string> SlowSearches() => [.. _cluster.Api!.AllOutput.Split('\n').Where(l => l.Contains("Slow search on")).Select(l => l.Trim())];

    /// <summary>Issue 60's bound on any search after a silo dies, where each shard has a copy elsewhere.</summary>
    public const double SlowestAfterKillMs = 1000;
}
