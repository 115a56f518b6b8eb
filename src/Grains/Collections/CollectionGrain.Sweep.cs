using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Persistence;

namespace RagCluster.Grains.Collections;

// The sweep: while accepted documents are unsettled a reminder keeps the collection able to wake and settle them, after a crash too.
public sealed partial class CollectionGrain
{
    // Register and unregister take turns, each deciding on the stored count: a sweep that found none left cannot
    // remove the reminder after a new acceptance (stored meanwhile) registered it.
    private readonly SemaphoreSlim _reminderTurn = new(1, 1);
    private bool _reminderHeld;

    private async Task EnsureSweepReminderAsync()
    {
        if (_reminderHeld) return;
        await _reminderTurn.WaitAsync();
        try
        {
            if (_reminderHeld || _unsettledCount == 0) return;
            await ReminderCalls.Run(() => this.RegisterOrUpdateReminder(SweepReminder, _ingest.PendingSweepPeriod, _ingest.PendingSweepPeriod));
            _reminderHeld = true;
        }
        finally
        {
            _reminderTurn.Release();
        }
    }

    /// <summary>
    /// Activates every unsettled document, a page at a time (a pending one resumes indexing on activation), and forgets
    /// those that are settled: indexed, failed or deleted, or never stored although accepted a whole period ago (a
    /// document answers "unknown" between its acceptance and its first write). Once none is left the reminder goes.
    /// </summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == ReshardReminder) { await OnReshardReminderAsync(); return; }
        if (reminderName == RestoreReminder) { await OnRestoreReminderAsync(); return; }
        if (reminderName != SweepReminder) return;
        var key = this.GetPrimaryKeyString();
        var abandonedBefore = DateTime.UtcNow - _ingest.PendingSweepPeriod;
        var waiting = 0;
        for (string? after = null; ;)
        {
            var page = await rows.PageAsync(Unsettled, after, SweepPage);
            if (page.Count == 0) break;
            after = page[^1].Key;
            var settled = new List<(string Id, byte[] At)>(); // the calls' continuations take turns on this grain
            var neverStored = new HashSet<string>(StringComparer.Ordinal);
            var bulk = page.Where(e => BulkMarker(e.Value) is not null).ToList();
            settled.AddRange(await SettleBulkAsync(bulk, abandonedBefore));
            foreach (var group in page.Where(e => BulkMarker(e.Value) is null).Chunk(64))
            {
                await Task.WhenAll(group.Select(async entry =>
                {
                    try
                    {
                        // Settled: the document holds this acceptance's write (or a later one) and is done with it. A
                        // done status of an earlier write is not enough: the write accepted here may be on its way to
                        // storage. An acceptance older than a period whose write never arrived was abandoned.
                        var document = await GrainFactory.Document(key, entry.Key).GetStatus().WaitAsync(_ingest.PendingSweepCallTimeout);
                        var done = document.Status is DocumentStatuses.Indexed or DocumentStatuses.Failed or DocumentStatuses.Deleted;
                        var stamp = BitConverter.ToInt64(entry.Value);
                        var abandoned = new DateTime(stamp, DateTimeKind.Utc) < abandonedBefore;
                        if ((done && (document.AcceptedStamp >= stamp || abandoned)) || (document.Version == 0 && abandoned))
                            settled.Add((entry.Key, entry.Value));
                        if (document.Version == 0 && abandoned) neverStored.Add(entry.Key);
                    }
                    catch (Exception e)
                    {
                        log.SweepCouldNotReachDocument(key, entry.Key, e.Message);
                    }
                }));
            }
            waiting += page.Count - settled.Count;
            // One accepted again while the sweep ran carries a newer time and stays.
            if (settled.Count > 0)
                await Change((h, edits) =>
                {
                    foreach (var (id, at) in settled)
                    {
                        var current = edits.Read(Unsettled, id) is { } now && now.AsSpan().SequenceEqual(at);
                        // A bulk write whose chunks reached its shard is registered, as its EndBulk would have.
                        if (_finishedBulk.Remove(id, out var record))
                        {
                            if (h is { Settings: not null, Deleting: false } && current) edits.Put(Registered, id, serializer.SerializeToArray(record));
                        }
                        else if (BulkMarker(at) is not null) neverStored.Add(id);
                        // Accepted, and never stored (nor held before): it holds nothing. (A lost update keeps the size it was accepted with.)
                        if (current && neverStored.Contains(id) && edits.Read(Registered, id) is null) h = Hold(h, edits, id, null);
                        edits.DeleteIf(Unsettled, id, at);
                    }
                    return h;
                }, [.. settled.SelectMany(s => new[] { (Unsettled, s.Id), (Registered, s.Id) }), .. HeldRows(settled.Select(s => s.Id))]);
            _finishedBulk.Clear();
            if (page.Count < SweepPage) break;
        }
        if (waiting > 0) log.SweepUnsettled(key, waiting);
        await _reminderTurn.WaitAsync();
        try
        {
            if (_unsettledCount > 0) return;
            // Not held from here on, before the calls: an acceptance stored meanwhile then waits for this turn and
            // registers again, where it used to see "held", return, and leave its document with no sweep.
            _reminderHeld = false;
            await ReminderCalls.UnregisterAsync(this, SweepReminder);
        }
        finally
        {
            _reminderTurn.Release();
        }
    }


}
