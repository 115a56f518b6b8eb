using Orleans;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace RagCluster.Grains.Placement;

/// <summary>
/// Places a long-lived grain (an index shard, a cache partition) on its rendezvous home: every silo gets a score
/// from a hash of (grain, silo) and the highest wins. When a silo joins, only the grains that now score it highest
/// have a new home (about 1/N of them); when a silo leaves, only its own grains do. Orleans' built-in strategies
/// (random, hash over the directory ring, resource-optimised) either move nothing on join or do not say which grains
/// should move; <see cref="HomeSilo"/> lets a grain follow this one.
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class RendezvousPlacement : PlacementStrategy
{
    public static readonly RendezvousPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class)]
public sealed class RendezvousPlacementAttribute() : PlacementAttribute(RendezvousPlacement.Instance);

public sealed class RendezvousPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context) =>
        Task.FromResult(Rendezvous.Home(target.GrainIdentity, context.GetCompatibleSilos(target)));
}

/// <summary>Highest-random-weight hashing over silos.</summary>
public static class Rendezvous
{
    public static SiloAddress Home(GrainId grain, IReadOnlyCollection<SiloAddress> silos)
    {
        if (silos.Count == 0) throw new SiloUnavailableException("no active silo can host " + grain);
        var key = Hash64(grain.ToString());
        SiloAddress? best = null;
        var bestScore = 0UL;
        foreach (var silo in silos)
        {
            var score = Mix(key ^ Hash64(silo.ToParsableString()));
            // Ties (practically never) go to the smaller address, so every silo makes the same choice.
            if (best is null || score > bestScore || (score == bestScore && silo.CompareTo(best) < 0)) (best, bestScore) = (silo, score);
        }
        return best!;
    }

    private static ulong Hash64(string s)
    {
        var h = 14695981039346656037UL; // FNV-1a, then a strong finaliser: FNV alone mixes short keys poorly
        foreach (var c in s) h = (h ^ c) * 1099511628211UL;
        return Mix(h);
    }

    private static ulong Mix(ulong z) // splitmix64's finaliser
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }
}
