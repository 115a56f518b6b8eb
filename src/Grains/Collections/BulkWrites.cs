using Microsoft.Extensions.DependencyInjection;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Security;

namespace RagCluster.Grains.Collections;

/// <summary>
/// Documents written in bulk (see DocumentBatch): one registry write a batch to begin, one to end, instead of a grain
/// activation, a grain state write and several registry changes a document. While a bulk write of a document is in
/// flight its <c>unsettled</c> row holds a marker (its record), so the grain path refuses the id until it ends, and the
/// sweep settles a write a crash cut off: registered if its shard holds the version, forgotten if not. A registered
/// bulk document's <c>documents</c> row holds its record; a grain-owned one's is empty, and stays on the grain path.
/// A text document written in bulk (see BulkTextIndexer) is chunked and embedded after its acceptance: its marker also
/// holds its content and the silo indexing it, and reads as pending until the write ends.
/// </summary>
public sealed partial class CollectionGrain
{
    private const byte BulkTag = 0xB1, TextTag = 0xB2;
    // Bulk writes the sweep found in their shards, to register in its next change.
    private readonly Dictionary<string, DocumentRecord> _finishedBulk = new(StringComparer.Ordinal);

    private byte[] Marker(DocumentRecord record) => [BulkTag, .. serializer.SerializeToArray(record)];

    private byte[] Marker(BulkTextMarker text) => [TextTag, .. serializer.SerializeToArray(text)];

    /// <summary>The record a bulk write in flight noted, or null when the row is not such a marker (a grain's stamp is 8 bytes).</summary>
    private DocumentRecord? BulkMarker(byte[]? unsettled) => unsettled is { Length: > 8 } && unsettled[0] == BulkTag
        ? serializer.Deserialize<DocumentRecord>(unsettled.AsMemory(1).ToArray())
        : TextMarker(unsettled)?.Record;

    /// <summary>The note of a text document written in bulk and not registered yet, or null when the row is not one.</summary>
    private BulkTextMarker? TextMarker(byte[]? unsettled) =>
        unsettled is { Length: > 8 } && unsettled[0] == TextTag ? serializer.Deserialize<BulkTextMarker>(unsettled.AsMemory(1).ToArray()) : null;

    private DocumentRecord? RegisteredRecord(byte[]? registered) =>
        registered is { Length: > 0 } ? serializer.Deserialize<DocumentRecord>(registered) : null;

    public async Task<BulkAcceptance> BeginBulk(BulkEntry[] entries)
    {
        var records = new DocumentRecord?[entries.Length];
        var unchanged = new bool[entries.Length];
        var replaces = new bool[entries.Length];
        var hidden = new bool[entries.Length];
        CollectionSettings settings = Settings;
        var marked = 0;
        await Change((h, edits) =>
        {
            h = RequireOpen(h);
            settings = h.Settings!;
            var version = h.LastBulkVersion;
            for (var i = 0; i < entries.Length; i++)
            {
                var e = entries[i];
                var unsettled = edits.Read(Unsettled, e.Id);
                var registered = edits.Read(Registered, e.Id);
                // A grain's own acceptance in flight, or a document the grain path owns: it goes there.
                var marker = BulkMarker(unsettled);
                if ((unsettled is not null && marker is null) || registered is { Length: 0 }) continue;
                var held = RegisteredRecord(registered);
                // The access wall, before the same-content answer below (whether it is the same is none of such a writer's).
                if ((marker ?? held) is { } present && !DocumentWrites.Allowed(settings.AccessField, e.Writer, present.Tags))
                {
                    hidden[i] = true;
                    continue;
                }
                // The same text sent again while its first write is still indexing: that write answers for both.
                if (e.Content is not null && TextMarker(unsettled) is { } indexing && indexing.Record.ContentHash == e.ContentHash)
                {
                    (records[i], unchanged[i]) = (indexing.Record, true);
                    continue;
                }
                if (unsettled is null && held is not null && held.ContentHash == e.ContentHash)
                {
                    (records[i], unchanged[i]) = (held, true);
                    continue;
                }
                version = Math.Max(version + 1, DateTime.UtcNow.Ticks);
                var layout = settings.Layout;
                // One chunk: its shard in the serving layout is known (a reshard's copy keeps that shard's content in the new one).
                var record = new DocumentRecord(version, e.ContentHash, e.ChunkCount, e.Tags, e.Format, layout.Generation, layout.ShardCount,
                    [ShardRouting.ShardOfSingleChunk(e.Id, layout.ShardCount)], DateTimeOffset.UtcNow);
                records[i] = record;
                replaces[i] = registered is { Length: > 0 } || unsettled is not null;
                edits.Put(Unsettled, e.Id, e.Content is { } content
                    ? Marker(new BulkTextMarker(record with { Pending = true, HeldShards = [] }, content, e.Silo ?? "", settings.Incarnation))
                    : Marker(record));
                if (e.Size is { } size) h = Hold(h, edits, e.Id, size);
                marked++;
            }
            return h with { LastBulkVersion = version };
        }, [.. entries.SelectMany(e => new[] { (Unsettled, e.Id), (Registered, e.Id) }), .. HeldRows(entries.Where(e => e.Size is not null).Select(e => e.Id))]);
        if (marked > 0) await EnsureSweepReminderAsync();
        return new BulkAcceptance(records, unchanged, settings) { Replaces = replaces, Hidden = hidden };
    }

    public async Task<bool> EndBulk(string[] documentIds, DocumentRecord[] records, int[] wroteLayouts, long incarnation = 0)
    {
        var open = true;
        await Change((h, edits) =>
        {
            open = !(h.Deleting || (h.Settings is null && h.Version > 0)) && Owns(h, incarnation);
            if (open) RequireWritten(h, wroteLayouts);
            for (var i = 0; i < documentIds.Length; i++)
            {
                var (id, record) = (documentIds[i], records[i]);
                var unsettled = edits.Read(Unsettled, id);
                if (unsettled is not null)
                {
                    // Replaced by a newer write of the same id (in bulk, or accepted by its grain): that one registers itself.
                    if (BulkMarker(unsettled)?.Version != record.Version) continue;
                    edits.DeleteIf(Unsettled, id, unsettled);
                }
                // No note left (the sweep gave this write up before it reached its shard): registered unless a newer
                // version is, or the grain owns the document now; grains' versions pass every bulk version given before.
                else if (edits.Read(Registered, id) is { } registered && (registered.Length == 0 || RegisteredRecord(registered)!.Version >= record.Version)) continue;
                if (open) edits.Put(Registered, id, serializer.SerializeToArray(record));
            }
            return h;
        }, documentIds.SelectMany(id => new[] { (Unsettled, id), (Registered, id) }).ToList());
        return open;
    }

    public async Task<DocumentRecord?> Record(string documentId)
    {
        var (registeredRow, unsettledRow) = (rows.ReadAsync(Registered, [documentId]), rows.ReadAsync(Unsettled, [documentId]));
        return Newest(RegisteredRecord((await registeredRow).GetValueOrDefault(documentId)), TextMarker((await unsettledRow).GetValueOrDefault(documentId)));
    }

    // A text written in bulk reads as pending, at its new version, until it is registered.
    private static DocumentRecord? Newest(DocumentRecord? registered, BulkTextMarker? text) =>
        text is not null && text.Record.Version > (registered?.Version ?? 0) ? text.Record : registered;

    public async Task<DocumentRecord?[]> BulkRecords(string[] documentIds)
    {
        var (registeredRows, unsettledRows) = (rows.ReadAsync(Registered, documentIds), rows.ReadAsync(Unsettled, documentIds));
        var (registered, unsettled) = (await registeredRows, await unsettledRows);
        return documentIds.Select(id =>
        {
            var held = RegisteredRecord(registered.GetValueOrDefault(id));
            return unsettled.GetValueOrDefault(id) switch
            {
                null => held,
                var note when TextMarker(note) is { } text => Newest(held, text),
                _ => null, // the grain path accepted it (or an own-vector write is in flight): its grain says
            };
        }).ToArray();
    }

    /// <summary>
    /// The sweep's part for bulk writes: one a period old (its caller is gone; calls time out well within a period) is
    /// settled by what its shard holds, asked in one call a shard. Returns the markers to forget; those found in their
    /// shard are left in <see cref="_finishedBulk"/> to register.
    /// </summary>
    private async Task<List<(string Id, byte[] At)>> SettleBulkAsync(List<(string Key, byte[] Value)> markers, DateTime abandonedBefore)
    {
        var settled = new List<(string, byte[])>();
        var key = this.GetPrimaryKeyString();
        ResumeTexts(markers, abandonedBefore);
        var old = markers.Where(m => m.Value[0] == BulkTag).Select(m => (m.Key, m.Value, Record: BulkMarker(m.Value)!))
            .Where(m => m.Record.UpdatedAt.UtcDateTime < abandonedBefore).ToList();
        if (old.Count == 0) return settled;
        var layout = Settings.Layout;
        foreach (var byShard in old.GroupBy(m => ShardRouting.ShardOfSingleChunk(m.Key, layout.ShardCount)))
        {
            try
            {
                var held = await GrainFactory.GetGrain<IIndexShardGrain>(layout.ShardKey(key, byShard.Key)).Versions(byShard.Select(m => m.Key).ToArray());
                foreach (var m in byShard)
                {
                    if (held.GetValueOrDefault(m.Key) == m.Record.Version) _finishedBulk[m.Key] = m.Record;
                    settled.Add((m.Key, m.Value));
                }
            }
            catch (Exception e)
            {
                log.SweepCouldNotAskShard(key, byShard.Key, e.Message);
            }
        }
        return settled;
    }

    /// <summary>
    /// Texts written in bulk a period old are indexed here when the silo their note names is no longer active, when it is
    /// this silo and its indexer does not hold them (an acceptance whose answer was lost before the texts reached it), or
    /// when they are ten periods old. The marker stays until their write ends, so a later tick tries again if this one
    /// fails too. Younger ones a live silo holds are left to it: on a CPU a load's backlog can take minutes, and redoing
    /// them on a timer would only double the work (a write that is done twice is stored once: shards keep versions).
    /// </summary>
    private void ResumeTexts(List<(string Key, byte[] Value)> markers, DateTime abandonedBefore)
    {
        var membership = ServiceProvider.GetRequiredService<IClusterMembershipService>().CurrentSnapshot;
        var indexer = ServiceProvider.GetRequiredService<BulkTextIndexer>();
        var overdue = DateTime.UtcNow - 10 * _ingest.PendingSweepPeriod;
        bool Orphaned(BulkTextMarker t) => t.Silo.Length == 0 || t.Silo == indexer.Silo || t.Record.UpdatedAt.UtcDateTime < overdue
                                           || membership.GetSiloStatus(SiloAddress.FromParsableString(t.Silo)) != SiloStatus.Active;
        var orphans = markers.Select(m => (m.Key, Text: TextMarker(m.Value)))
            .Where(m => m.Text is { } t && t.Record.UpdatedAt.UtcDateTime < abandonedBefore && Orphaned(t))
            .Select(m => new BulkTextIndexer.Text(m.Key, m.Text!.Record, m.Text.Content, Replaces: true) { Incarnation = m.Text.Incarnation }).ToList();
        var taken = indexer.Accept(this.GetPrimaryKeyString(), orphans);
        if (taken > 0) log.SweepTakesOverTexts(this.GetPrimaryKeyString(), taken);
    }
}

/// <summary>A text document's in-flight note: its new record (pending), its content, the silo indexing it, and the creation of the collection that accepted it.</summary>
[GenerateSerializer, Immutable, Alias("rc.BulkTextMarker")]
public sealed record BulkTextMarker(DocumentRecord Record, byte[] Content, string Silo, long Incarnation);
