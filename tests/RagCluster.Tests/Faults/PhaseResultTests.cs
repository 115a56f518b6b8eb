namespace RagCluster.Tests.Faults;

/// <summary>The fault suite's search-failure bound: a share of the phase's searches, or, after a kill with no copy, the clients' paced refusals.</summary>
public sealed class PhaseResultTests
{
    private static PhaseResult Kill(int searches, int failed, double recovery, int? clients) =>
        new("3. kill", 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, searches, failed, new Dictionary<int, int> { [503] = failed }, 0, recovery, "")
            { UncopiedSearchClients = clients };

    [Fact]
    public void Refusals_while_a_shard_without_a_copy_waits_to_move_are_bounded_by_the_clients_not_the_search_rate()
    {
        // The run that failed the 1 % check: 4 clients, each refused once a second for the 6.2 s before the silo was declared dead.
        Assert.Empty(Kill(1_777, 24, 6.2, clients: 4).Violations());
        Assert.Single(Kill(1_777, 24, 6.2, clients: null).Violations());
        // Refused faster than Retry-After paces them, or outside the window: over the bound.
        Assert.Contains(Kill(1_777, 29, 6.2, clients: 4).Violations(), v => v.Contains("29 of 1777 searches failed (28 allowed"));
        Assert.Single(Kill(1_777, 20, 2.1, clients: 4).Violations());
        // A phase with many searches keeps its 1 %.
        Assert.Empty(Kill(9_000, 80, 2.1, clients: 4).Violations());
    }
}
