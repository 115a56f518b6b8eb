using Orleans.Placement;
using Orleans.Runtime.Placement;
using RagCluster.Grains.Interfaces.Indexing;

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

/// <summary>
/// Highest-random-weight hashing over silos. A grain whose key names a group and its size (a shard layout's keys end in
/// "/L{generation}x{count}/{index}") is placed with bounded loads instead: the group's members, in index order, each take
/// the highest-scoring silo that holds fewer than ceil(count / silos) of them, so 16 shards on 3 silos sit 6, 5 and 5,
/// where plain rendezvous hashing put 3 of a 4-shard collection's shards on one silo of 3. Generation 0's keys
/// ("collection/3", collections created before generation 1 was the first) name no size and are hashed alone.
/// </summary>
public static class Rendezvous
{
    public static SiloAddress Home(GrainId grain, IReadOnlyCollection<SiloAddress> silos)
    {
        if (silos.Count == 0) throw new SiloUnavailableException("no active silo can host " + grain);
        return HomeOf(grain.ToString(), silos);
    }

    private static SiloAddress HomeOf(string id, IReadOnlyCollection<SiloAddress> silos)
    {
        var (primary, copy) = ShardLayout.ParseCopy(id);
        if (copy > 0) return CopyHome(primary, copy, silos);
        return GroupMember(id) is { } member ? Balanced(member.Group, member.Count, member.Index, silos) : Highest(Hash64(id), silos, null, 0);
    }

    // A shard's follower copy ("…~c"): the highest-scoring silo that holds none of the shard's lower copies, so the
    // copies of one shard sit on distinct silos while there are enough; with fewer silos than copies, any silo.
    private static SiloAddress CopyHome(string primary, int copy, IReadOnlyCollection<SiloAddress> silos)
    {
        var taken = Enumerable.Range(0, copy).Select(c => HomeOf(ShardLayout.CopyKey(primary, c), silos)).ToHashSet();
        var free = silos.Where(s => !taken.Contains(s)).ToArray();
        return Highest(Hash64(ShardLayout.CopyKey(primary, copy)), free.Length > 0 ? free : silos, null, 0);
    }

    private static SiloAddress Balanced(string group, int count, int index, IReadOnlyCollection<SiloAddress> silos)
    {
        var ordered = silos.OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToArray(); // every silo sees the same order
        var cap = (count + ordered.Length - 1) / ordered.Length;
        var load = new int[ordered.Length];
        for (var member = 0; ; member++)
        {
            var home = Highest(Hash64($"{group}/{member}"), ordered, load, cap);
            if (member == index) return home;
            load[Array.IndexOf(ordered, home)]++;
        }
    }

    // "type/…/L{g}x{n}/{i}" with 0 <= i < n: the group is everything before the last '/'.
    private static (string Group, int Count, int Index)? GroupMember(string id)
    {
        var last = id.LastIndexOf('/');
        var previous = last > 0 ? id.LastIndexOf('/', last - 1) : -1;
        if (previous < 0) return null;
        var segment = id.AsSpan(previous + 1, last - previous - 1);
        var x = segment.IndexOf('x');
        if (segment.Length < 4 || segment[0] != 'L' || x < 2 || !int.TryParse(segment[1..x], out _)
            || !int.TryParse(segment[(x + 1)..], out var count) || !int.TryParse(id.AsSpan(last + 1), out var index)
            || count < 1 || index < 0 || index >= count) return null;
        return (id[..last], count, index);
    }

    // Among the silos whose load (when given) is below cap.
    private static SiloAddress Highest(ulong key, IReadOnlyCollection<SiloAddress> silos, int[]? load, int cap)
    {
        SiloAddress? best = null;
        var bestScore = 0UL;
        var i = -1;
        foreach (var silo in silos)
        {
            i++;
            if (load is not null && load[i] >= cap) continue;
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
