using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Backup;

/// <summary>Backups and restores (<see cref="IBackupGrain"/>) through <see cref="CollectionArchive"/>, on this silo's files.</summary>
[StatelessWorker]
public sealed class BackupGrain : Grain, IBackupGrain
{
    public async Task<ArchiveSummary> Write(string path, CancellationToken cancellationToken = default)
    {
        var key = this.GetPrimaryKeyString();
        await using var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.Asynchronous);
        // The workflow's many awaits on the thread pool, not this activation's turns (as the ingest grain's batches).
        var grains = GrainFactory;
        return Summary(await Task.Run(() => CollectionArchive.WriteAsync(grains, key, TenantScope.Split(key).Collection, file, cancellationToken), cancellationToken));
    }

    public async Task<ArchiveSummary> Restore(string path, CancellationToken cancellationToken = default)
    {
        var (tenant, collection) = TenantScope.Split(this.GetPrimaryKeyString());
        await Aliases.AliasNamespace.RequireFreeAsync(GrainFactory, tenant, collection);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous);
        var grains = GrainFactory;
        return Summary(await Task.Run(() => CollectionArchive.RestoreAsync(grains, tenant, collection, file, cancellationToken), cancellationToken));
    }

    private static ArchiveSummary Summary(BackupManifest m) => new(m.Collection, m.CreatedAt, m.Documents, m.Chunks, m.Skipped);
}
