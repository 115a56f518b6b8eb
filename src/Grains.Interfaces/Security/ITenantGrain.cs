using Orleans.Concurrency;

namespace RagCluster.Grains.Interfaces.Security;

/// <summary>
/// Key: tenant name. The tenant's key ids and collection names, for listing, and its share: the limits an operator set
/// and the writes in flight that count against them (see TenantLimits).
/// </summary>
[Alias("rc.ITenantGrain")]
public interface ITenantGrain : IGrainWithStringKey
{
    Task AddKey(string keyId);
    Task<string[]> KeyIds();
    Task AddCollection(string collection);
    Task RemoveCollection(string collection);
    Task<string[]> Collections();
    [AlwaysInterleave]
    Task<TenantLimits> GetLimits();
    Task SetLimits(TenantLimits limits);
    /// <summary>
    /// A collection about to be created (or restored) under this tenant: TenantLimitExceededException if the tenant
    /// has as many as it may (those being created count), else it counts until AddCollection or for a minute.
    /// </summary>
    Task AdmitCollection(string collection);
    /// <summary>
    /// Sets <paramref name="growth"/> aside for a write to <paramref name="collection"/> before it is accepted:
    /// TenantLimitExceededException when what the tenant holds, with the writes already set aside, would pass a limit.
    /// Returns the reservation to release once the collection has counted the write (0: the tenant has no limits).
    /// A reservation nobody releases lapses after a minute.
    /// </summary>
    Task<long> Reserve(string collection, StoredUsage growth);
    Task Release(long reservation);
    /// <summary>What each of the tenant's collections holds now, asked of each.</summary>
    Task<TenantUsage> Usage();
}
