namespace RagCluster.Runtime.Membership;

public enum SiloStatus
{
    /// <summary>Serving and taking new activations.</summary>
    Active = 1,
    /// <summary>Leaving gracefully: no new placements, its grains are being deactivated.</summary>
    ShuttingDown = 2,
    /// <summary>Gone: left, or declared dead by the others. A silo that sees itself dead stops.</summary>
    Dead = 3,
}

/// <summary>One silo's row in the membership table.</summary>
/// <param name="SiloId">Address plus start generation, so a restart on the same port is a new silo.</param>
/// <param name="Address">Base URL of its h2c endpoint, e.g. http://127.0.0.1:11111.</param>
/// <param name="HeartbeatAgeMs">Milliseconds since its last heartbeat, measured by the store's clock.</param>
public sealed record MembershipEntry(string SiloId, string Address, SiloStatus Status, long StartedMs, long HeartbeatAgeMs);

/// <summary>The table at one version. Every status change bumps the version, so views can be ordered.</summary>
public sealed record MembershipSnapshot(long Version, IReadOnlyList<MembershipEntry> Entries);

/// <summary>Cluster membership: rows of silos plus a version row that orders every change.</summary>
public interface IMembershipTable
{
    Task<MembershipSnapshot> ReadAllAsync(CancellationToken ct = default);

    /// <summary>Inserts or updates the silo's row and bumps the version, only if the version is still <paramref name="expectedVersion"/>.</summary>
    Task<bool> TryWriteEntryAsync(string siloId, string address, SiloStatus status, long startedMs, long expectedVersion, CancellationToken ct = default);

    /// <summary>Marks the silo alive now (store clock). Does not bump the version.</summary>
    Task HeartbeatAsync(string siloId, CancellationToken ct = default);

    /// <summary>Removes rows of silos dead for longer than <paramref name="olderThan"/>.</summary>
    Task PruneDeadAsync(TimeSpan olderThan, CancellationToken ct = default);
}
