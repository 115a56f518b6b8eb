namespace RagCluster.Grains.Interfaces.Backup;

/// <summary>
/// Key: the collection's key. A collection's backup and a restore into a new collection, run in the cluster whoever
/// asks. A local stateless worker: the archive is a file on the silo that took the request (the door stages it there),
/// and both calls name it by its path, which only a grain of that silo can open.
/// </summary>
[Alias("rc.IBackupGrain")]
public interface IBackupGrain : IGrainWithStringKey
{
    /// <summary>Writes the collection's archive (a zip with a checksum manifest) to <paramref name="path"/>, created or replaced.</summary>
    [ResponseTimeout("01:00:00")] // a large collection takes minutes
    Task<ArchiveSummary> Write(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Restores the archive at <paramref name="path"/> into this new collection, all or nothing, after checking every
    /// checksum, count and reference: <see cref="Errors.InvalidRequestException"/> for a damaged archive,
    /// <see cref="Errors.ConflictException"/> for a name taken by a collection or an alias,
    /// <see cref="Errors.TenantLimitExceededException"/> past a limit of the tenant; nothing is written then.
    /// </summary>
    [ResponseTimeout("01:00:00")]
    Task<ArchiveSummary> Restore(string path, CancellationToken cancellationToken = default);
}
