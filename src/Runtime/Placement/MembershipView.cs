using System.Text;
using RagCluster.Runtime.Membership;

namespace RagCluster.Runtime.Placement;

/// <summary>
/// One version of the membership table as a silo sees it, with rendezvous (highest-random-weight) placement:
/// every silo with the same view picks the same owner, and a join or leave moves only the grains it must.
/// </summary>
public sealed class MembershipView
{
    private readonly (MembershipEntry Entry, ulong Hash)[] _active;

    public MembershipView(long version, IReadOnlyList<MembershipEntry> entries)
    {
        Version = version;
        Entries = entries;
        _active = entries.Where(e => e.Status == SiloStatus.Active)
            .OrderBy(e => e.SiloId, StringComparer.Ordinal)
            .Select(e => (e, Hash(e.SiloId)))
            .ToArray();
    }

    public static MembershipView Empty { get; } = new(-1, []);

    public long Version { get; }
    public IReadOnlyList<MembershipEntry> Entries { get; }
    public IEnumerable<MembershipEntry> ActiveSilos => _active.Select(a => a.Entry);

    public MembershipEntry? Find(string siloId) => Entries.FirstOrDefault(e => e.SiloId == siloId);

    /// <summary>The active silo that should host <paramref name="grain"/>, or null when no silo is active.</summary>
    public MembershipEntry? OwnerOf(GrainId grain)
    {
        if (_active.Length == 0) return null;
        var grainHash = Hash(grain.Type) ^ Mix(Hash(grain.Key));
        MembershipEntry? best = null;
        var bestScore = 0UL;
        foreach (var (entry, siloHash) in _active)
        {
            var score = Mix(grainHash ^ siloHash);
            if (best is null || score > bestScore)
            {
                best = entry;
                bestScore = score;
            }
        }
        return best;
    }

    /// <summary>FNV-1a over UTF-8: stable across processes and runtimes, unlike string.GetHashCode.</summary>
    private static ulong Hash(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text)) hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }

    /// <summary>SplitMix64 finaliser: spreads FNV's weak low bits so scores are independent per silo.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
