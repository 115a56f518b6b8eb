using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Persistence;

namespace RagCluster.Grains.Collections;

/// <summary>
/// A restore is all or nothing. The collection is created hidden (Exists is false, so every endpoint answers 404, and a
/// Create is a conflict), the restore writes chunks to the new incarnation's shards and registers documents as bulk
/// records (no grain state of their own, so nothing outside the collection and its shards holds any of it), and only
/// then shows the collection. The restoring caller renews a lease as it goes; a reminder, which survives a kill -9 of
/// every silo, gives a lapsed restore up: its registered rows go, the collection is dropped and its shards retire.
/// </summary>
public sealed partial class CollectionGrain
{
    private const string RestoreReminder = "restore-lease";
    private const int AbandonPage = 1000;
    private Task? _abandoning;

    private static DateTime LeaseEnd(CollectionHead h) => new(h.RestoringUntil, DateTimeKind.Utc);

    private static CollectionHead RequireNoRestore(CollectionHead h) =>
        h.RestoringUntil != 0 ? throw new ConflictException("a restore into this collection is in progress") : h;

    private CollectionHead RequireRestoring(CollectionHead h, long incarnation) =>
        h.RestoringUntil != 0 && h.Settings?.Incarnation == incarnation
            ? h
            : throw new CollectionGoneException($"the restore into '{this.GetPrimaryKeyString()}' was given up (its lease lapsed, or it failed)");

    public async Task<RestoreStart> BeginRestore(CollectionSettings settings, int documents)
    {
        settings = WithAccessFieldDeclared(settings); // an archive's access field comes back with the collection, checked as at creation
        Validate(settings);
        if (documents < 0) throw new InvalidRequestException("documents must not be negative");
        // The reminder first: a crash right after the change below must not leave a hidden collection nobody gives up.
        await ReminderCalls.Run(() => this.RegisterOrUpdateReminder(RestoreReminder, _backup.RestoreLease, _backup.RestoreLease));
        var created = settings;
        long first = 0;
        await Change((h, _) =>
        {
            (h, created) = NewIncarnation(h, settings);
            first = Math.Max(h.LastBulkVersion, DateTime.UtcNow.Ticks) + 1;
            return h with { RestoringUntil = (DateTime.UtcNow + _backup.RestoreLease).Ticks, LastBulkVersion = first + documents };
        });
        return new RestoreStart(created, first, _backup.RestoreLease);
    }

    public Task RenewRestore(long incarnation) => Change((h, _) =>
        RequireRestoring(h, incarnation) with { RestoringUntil = (DateTime.UtcNow + _backup.RestoreLease).Ticks });

    public Task RestoreDocuments(string[] documentIds, DocumentRecord[] records, long incarnation, StoredUsage[]? sizes = null) => Change((h, edits) =>
    {
        h = RequireRestoring(h, incarnation);
        for (var i = 0; i < documentIds.Length; i++)
        {
            edits.Put(Registered, documentIds[i], serializer.SerializeToArray(records[i]));
            if (sizes is not null) h = Hold(h, edits, documentIds[i], sizes[i]);
        }
        return h;
    }, sizes is null ? null : [.. HeldRows(documentIds)]);

    public async Task EndRestore(long incarnation)
    {
        await Change((h, _) => RequireRestoring(h, incarnation) with { RestoringUntil = 0 });
        await DropRestoreReminderAsync();
    }

    public async Task AbandonRestore(long incarnation)
    {
        if (_head.RestoringUntil == 0 || _head.Settings?.Incarnation != incarnation) return;
        await (_abandoning is { IsCompleted: false } running ? running : _abandoning = AbandonAsync(incarnation));
    }

    private void WatchRestoreLease()
    {
        // The reminder is stored with the restore; this covers an activation that finds the lease lapsed already.
        if (_head.RestoringUntil != 0 && DateTime.UtcNow > LeaseEnd(_head))
            this.RegisterGrainTimer(() => OnRestoreReminderAsync(), new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    private async Task OnRestoreReminderAsync()
    {
        if (_head.RestoringUntil == 0) { await DropRestoreReminderAsync(); return; }
        if (DateTime.UtcNow <= LeaseEnd(_head)) return;
        log.RestoreLeaseLapsed(this.GetPrimaryKeyString(), LeaseEnd(_head));
        await AbandonRestore(_head.Settings?.Incarnation ?? 0);
    }

    // The registered rows go a page at a time (each page one change, refused if the restore ended meanwhile), then the
    // collection itself, with its shards put to retire. A crash part-way leaves the restore still lapsed: the next tick goes on.
    private async Task AbandonAsync(long incarnation)
    {
        var key = this.GetPrimaryKeyString();
        for (var removed = 0L; ;)
        {
            var page = await rows.PageAsync(Registered, null, AbandonPage);
            if (page.Count > 0)
                await Change((h, edits) =>
                {
                    h = RequireRestoring(h, incarnation);
                    foreach (var (id, _) in page) edits.Delete(Registered, id);
                    return h;
                });
            removed += page.Count;
            if (page.Count >= AbandonPage) continue;
            await Change((h, edits) =>
            {
                h = RequireRestoring(h, incarnation);
                foreach (var shard in h.Settings!.WriteLayouts.SelectMany(l => l.ShardKeys(key))) edits.Put(RetireSet, shard, []);
                return h with { Settings = null, RestoringUntil = 0 };
            });
            log.RestoreGivenUp(key, removed);
            break;
        }
        ResumeReshardWork();
        await DropRestoreReminderAsync();
    }

    private async Task DropRestoreReminderAsync()
    {
        await ReminderCalls.UnregisterAsync(this, RestoreReminder);
    }
}
