using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace RagCluster.Grains.Placement;

/// <summary>
/// Places a grain on the silo its key names (a <see cref="SiloAddress"/> in parsable form), so a caller can ask one
/// particular silo something about itself (its statistics, its recorded spans) or use what it has (its model). Orleans'
/// built-in strategies place by hash, load or locality, never on a chosen silo. A key naming no active silo, or one
/// a placement filter rules out (a silo without the role), fails the call.
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class SiloTargetedPlacement : PlacementStrategy
{
    public static readonly SiloTargetedPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class)]
public sealed class SiloTargetedPlacementAttribute() : PlacementAttribute(SiloTargetedPlacement.Instance);

public sealed class SiloTargetedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString()!;
        var silo = SiloAddress.FromParsableString(key);
        if (!context.GetCompatibleSilos(target).Contains(silo))
            throw new SiloUnavailableException($"silo {key} is not an active member of the cluster that can host {target.GrainIdentity.Type}");
        return Task.FromResult(silo);
    }
}
