using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Hosting;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// Holds shard followers back on a TestCluster (config <c>Test:HoldableFollowers</c>): while <see cref="Holding"/> is
/// set, what primaries push to their copies (writes and beats) never arrives, so with a long <c>Shards:FollowerPoll</c>
/// a follower stays behind for as long as a test needs. Static: silos of a TestCluster share the test's process.
/// </summary>
public sealed class HeldFollowers : IIncomingGrainCallFilter
{
    public static volatile bool Holding;

    public static void Install(ISiloBuilder silo) => silo.AddIncomingGrainCallFilter<HeldFollowers>();

    public Task Invoke(IIncomingGrainCallContext context) =>
        Holding && context.InterfaceMethod?.Name == "Follow" && context.TargetId.Key.ToString()!.Contains('~') ? Task.CompletedTask : context.Invoke();
}
