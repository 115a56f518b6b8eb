using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Interfaces.Collections;

/// <summary>
/// Key: "tenant.collection". The restore protocol: a restore creates the collection hidden, holds a lease while it
/// writes, registers what it wrote, and ends or gives up. The same grain as <see cref="ICollectionGrain"/>, whose face it extends.
/// </summary>
[Alias("rc.ICollectionRestoreGrain")]
public interface ICollectionRestoreGrain : ICollectionGrain
{
    /// <summary>
    /// Starts a restore into this (new) collection: it is created with <paramref name="settings"/> but does not exist for
    /// anyone else (Exists is false, Create a conflict) until <see cref="EndRestore"/>, and <paramref name="documents"/>
    /// versions are set aside. The restore holds a lease (Backup:RestoreLease) that <see cref="RenewRestore"/> extends;
    /// if it lapses (the restoring silo died) the collection drops what the restore wrote, by itself, after a restart too.
    /// </summary>
    Task<RestoreStart> BeginRestore(CollectionSettings settings, int documents);
    /// <summary>Extends the restore's lease; CollectionGoneException if the restore was given up meanwhile.</summary>
    [AlwaysInterleave]
    Task RenewRestore(long incarnation);
    /// <summary>Registers restored documents with their records (their chunks are in the shards already); not visible until the restore ends.</summary>
    [AlwaysInterleave]
    Task RestoreDocuments(string[] documentIds, DocumentRecord[] records, long incarnation, StoredUsage[]? sizes = null);
    /// <summary>The restore is complete: the collection exists from now on, with everything registered.</summary>
    Task EndRestore(long incarnation);
    /// <summary>Gives the restore up: what it registered goes, the collection is dropped and its shards retire.</summary>
    Task AbandonRestore(long incarnation);
}
