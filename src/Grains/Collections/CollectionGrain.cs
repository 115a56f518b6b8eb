using RagCluster.Grains.Documents;
using Microsoft.Extensions.Options;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using RagCluster.Grains.Interfaces.Errors;
using Microsoft.Extensions.Logging;
using RagCluster.Storage.GrainRows;
using RagCluster.Grains.OwnVectors;
using RagCluster.Storage.Faults;
using RagCluster.Grains.Vectors;
using RagCluster.Grains.Configuration;

namespace RagCluster.Grains.Collections;

/// <summary>Defaults for new collections, bound from the "Collections" configuration section.</summary>
public sealed class CollectionDefaults : IValidatedOptions
{
    public int ShardCount { get; set; } = 4;
    /// <summary>
    /// Chunk length in the model's word pieces; 0: the embedding model's window (512 for arctic-xs, 256 for minilm, a
    /// ModelDirectory or none). On scifact-train, 512-token chunks with arctic-xs raised every plan's nDCG@10 (the
    /// default plan from 0.7071 to 0.7119; docs/benchmarks.md).
    /// </summary>
    public int ChunkMaxTokens { get; set; }
    public int ChunkOverlapTokens { get; set; } = 32;

    /// <summary>The chunk length new collections get when <see cref="ChunkMaxTokens"/> is 0.</summary>
    public static int ModelWindow(Embedding.EmbeddingOptions embedding) => embedding.DenseConfigured ? embedding.Resolved().MaxTokens : 256;

    public void Validate()
    {
        if (ShardCount is < 1 or > 256) throw new ArgumentException("Collections:ShardCount must be 1..256");
        if (ChunkMaxTokens is < 16 or > 8192) throw new ArgumentException("Collections:ChunkMaxTokens must be 16..8192 (or 0: the model's window)");
        if (ChunkOverlapTokens < 0 || ChunkOverlapTokens >= ChunkMaxTokens / 2) throw new ArgumentException("Collections:ChunkOverlapTokens must be 0..ChunkMaxTokens/2");
    }
}

/// <summary>
/// How collections were stored before their registry moved to rows: one Orleans state rewritten whole on every change.
/// Read only to move an old collection into rows on its first activation, then cleared.
/// </summary>
[GenerateSerializer, Alias("rc.CollectionState")]
public sealed class CollectionState
{
    [Id(0)] public CollectionSettings? Settings { get; set; }
    [Id(1)] public long Version { get; set; }
    [Id(2)] public HashSet<string> Documents { get; set; } = [];
    [Id(3)] public bool Deleting { get; set; }
    [Id(4)] public Dictionary<string, DateTime> Unsettled { get; set; } = [];
}

/// <summary>
/// What a collection always holds in memory: its settings (null before Create and after Drop), the version that cache
/// keys include (every change moves it on, and it is never reused), and whether a delete has begun (from then on no
/// document may register, until Drop ends it).
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.CollectionHead")]
public sealed record CollectionHead(CollectionSettings? Settings, long Version, bool Deleting)
{
    /// <summary>The highest shard layout generation this collection ever used: a re-created collection starts past it, on shards never written.</summary>
    [Id(3)] public int HighestGeneration { get; init; }
    /// <summary>The last version a bulk write gave a document: the next is past it (and past the clock's ticks), so versions never repeat.</summary>
    [Id(4)] public long LastBulkVersion { get; init; }
    /// <summary>While a restore fills the collection: when its lease lapses (UTC ticks); 0 otherwise. See Restoring.</summary>
    [Id(5)] public long RestoringUntil { get; init; }
}

/// <summary>
/// A collection's settings, document registry and version (which cache keys include). The registry is two row sets
/// (see IPersistentRows), so one change writes a few small rows and nothing the collection does grows with its size:
/// <c>documents</c>, those registered (indexed at least once and not deleted), and <c>unsettled</c>, those accepted and
/// perhaps not yet indexed, with when they were (last) accepted (stored before a document's own state, forgotten when a
/// sweep finds the document settled or when it is deleted: a superset is harmless; a missing id could strand one).
/// Every change, from any caller, is applied in one order and stored, with the head, before its caller hears back, so a
/// drop cannot interleave with a registration, and a failed write leaves nothing in memory.
/// While it has unsettled documents it holds an Orleans reminder, which fires on whichever silo owns it even after every
/// silo restarted: each tick activates those documents, and a pending document resumes indexing when it activates.
/// </summary>
public sealed partial class CollectionGrain(
    [PersistentRows("registry")] IPersistentRows rows, [PersistentState("collection")] IPersistentState<CollectionState> legacy,
    Serializer serializer, IOptions<CollectionDefaults> defaultOptions, IOptions<IngestOptions> ingestOptions, IOptions<ReshardOptions> reshardOptions, IOptions<BackupOptions> backupOptions,
    ILogger<CollectionGrain> log)
    : Grain, ICollectionGrain, IRemindable
{
    private readonly CollectionDefaults _defaults = defaultOptions.Value;
    private readonly IngestOptions _ingest = ingestOptions.Value;
    private readonly ReshardOptions _reshard = reshardOptions.Value;
    private readonly BackupOptions _backup = backupOptions.Value;
    private const string SweepReminder = "unsettled-documents";
    private const string Registered = "documents", Unsettled = "unsettled";
    private const int SweepPage = 1024;

    private CollectionHead _head = new(null, 0, false);
    private long _documentCount, _unsettledCount;
    private long _lastAcceptance; // the last acceptance stamp this activation gave (see DocumentsAccepted)

    private CollectionSettings Settings =>
        _head.Settings ?? new CollectionSettings(_defaults.ShardCount, _defaults.ChunkMaxTokens, _defaults.ChunkOverlapTokens);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var (head, counts) = await rows.ReadAsync(cancellationToken);
        if (head is not null) _head = serializer.Deserialize<CollectionHead>(head)!;
        _documentCount = counts.GetValueOrDefault(Registered);
        _unsettledCount = counts.GetValueOrDefault(Unsettled);
        _retireCount = counts.GetValueOrDefault(RetireSet);
        // (An old collection's sweep reminder, if it held one, is keyed by the same grain and keeps firing.)
        if (head is null && legacy.RecordExists) await MoveIntoRowsAsync(cancellationToken);
        ResumeReshardWork(); // a reshard (or the retirement of old shards) that a crash or a move interrupted goes on
        WatchRestoreLease(); // a restore whose silo died is given up once its lease lapses
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _stopping.Cancel(); // the copy stops at its next step; the next activation resumes it from the stored progress
        return Task.CompletedTask;
    }

    // A collection stored by an older version: its registry becomes rows in one write, then the old record goes. If the
    // clear fails, the head exists now and the old record is never read again.
    private async Task MoveIntoRowsAsync(CancellationToken cancellationToken)
    {
        var old = legacy.State;
        var head = new CollectionHead(old.Settings, old.Version, old.Deleting);
        var changes = old.Documents.Select(id => new RowChange(Registered, id, []))
            .Concat(old.Unsettled.Select(u => new RowChange(Unsettled, u.Key, Ticks(u.Value)))).ToList();
        var gained = await rows.WriteAsync(serializer.SerializeToArray(head), changes, cancellationToken);
        _head = head;
        _documentCount += gained.GetValueOrDefault(Registered);
        _unsettledCount += gained.GetValueOrDefault(Unsettled);
        log.LogInformation("Collection {Collection}: moved {Documents} document(s) into the row registry", this.GetPrimaryKeyString(), _documentCount);
        try
        {
            await legacy.ClearStateAsync();
        }
        catch (Exception e)
        {
            log.LogWarning("Collection {Collection}: the old state record stays (never read again): {Error}", this.GetPrimaryKeyString(), e.Message);
        }
    }

    public Task<CollectionInfo> GetInfo() => Task.FromResult(new CollectionInfo(this.GetPrimaryKeyString(), Settings, _head.Version,
        (int)_documentCount) { UnsettledCount = (int)_unsettledCount, Resharding = Progress() });

    public Task<CollectionSettings> GetSettings() => Task.FromResult(Settings);

    public Task<bool> Exists() => Task.FromResult(_head.Settings is not null && _head.RestoringUntil == 0);

    public Task<bool> IsDeleting() => Task.FromResult(_head.Deleting);

    public async Task<DocumentPage> ListDocuments(string? after, int limit)
    {
        if (limit is < 1 or > 10_000) throw new InvalidRequestException("limit must be 1..10000");
        var page = await rows.PageAsync(Registered, after, limit);
        return new DocumentPage(page.Select(r => r.Key).ToArray(), page.Count == limit ? page[^1].Key : null);
    }

    public async Task<CollectionSettings> Create(CollectionSettings settings)
    {
        Validate(settings);
        var created = settings;
        await Change((h, _) =>
        {
            (h, created) = NewIncarnation(h, settings);
            return h;
        });
        return created;
    }

    // A collection created again under a name used before is a new incarnation, on a generation of shards never
    // written: nothing the old one owned (a document in flight, a shard's rows) can reach it.
    private static (CollectionHead Head, CollectionSettings Created) NewIncarnation(CollectionHead h, CollectionSettings settings)
    {
        RequireNoRestore(h);
        if (h.Settings is not null) throw new ConflictException(h.Deleting ? "the collection is being deleted" : "the collection already exists");
        var generation = h.Version == 0 ? 0 : h.HighestGeneration + 1;
        var created = settings with { LayoutGeneration = generation, ReshardingTo = null, Incarnation = h.Version + 1 };
        return (h with { Settings = created, HighestGeneration = generation }, created);
    }

    public async Task<CollectionSettings> Configure(CollectionSettings settings)
    {
        Validate(settings);
        CollectionSettings? configured = null;
        var replicationBefore = Settings.ReplicationFactor;
        await Change((h, edits) =>
        {
            if (h.Deleting) throw new CollectionGoneException("the collection is being deleted");
            RequireNoRestore(h);
            var current = h.Settings ?? Settings;
            if (settings.Dimensions != current.Dimensions)
                throw new ConflictException("dimensions are fixed when a collection is created");
            if (Quantizations.Normalize(settings.Quantization) != Quantizations.Normalize(current.Quantization))
                throw new ConflictException("quantization is fixed when a collection is created");
            var next = current with { ChunkMaxTokens = settings.ChunkMaxTokens, ChunkOverlapTokens = settings.ChunkOverlapTokens, ReplicationFactor = settings.ReplicationFactor };
            var wanted = current.ReshardingTo?.ShardCount ?? current.ShardCount;
            if (settings.ShardCount != wanted)
            {
                if (current.ReshardingTo is { } running)
                    throw new ConflictException($"a reshard to {running.ShardCount} shards is in progress; change the count again once it ends");
                var layout = new ShardLayout(Math.Max(h.HighestGeneration, current.LayoutGeneration) + 1, settings.ShardCount);
                h = h with { HighestGeneration = layout.Generation };
                if (_documentCount == 0 && _unsettledCount == 0 && !edits.Adds(Registered) && !edits.Adds(Unsettled))
                {
                    // Nothing to copy: the new layout serves at once; the old shards (which may hold removals) retire.
                    foreach (var key in current.Layout.ShardKeys(this.GetPrimaryKeyString())) edits.Put(RetireSet, key, []);
                    next = next with { ShardCount = layout.ShardCount, LayoutGeneration = layout.Generation };
                }
                else next = next with { ReshardingTo = layout };
            }
            configured = next;
            return h with { Settings = next };
        });
        ResumeReshardWork();
        if (configured!.ReplicationFactor != replicationBefore)
            foreach (var shard in configured.WriteLayouts.SelectMany(l => l.ShardKeys(this.GetPrimaryKeyString())))
                GrainFactory.GetGrain<IIndexShardGrain>(shard).Replicate(configured.ReplicationFactor).Ignore(); // one way; the shards read it again within a minute
        return configured!;
    }

    // A collection that only ever existed implicitly (documents without Create) is deleted too.
    public Task BeginDelete() => Change((h, _) => RequireNoRestore(h) with { Settings = h.Settings ?? (_documentCount > 0 ? Settings : throw new NotFoundException("no such collection")), Deleting = true });

    // The version moves on (every change does) and is never reused: a re-created collection's cache keys cannot meet the old ones.
    // Its shards retire (their rows go, and a write still on its way to one is refused), in the background and after a
    // crash too (the retire set is stored with the drop; see Resharding).
    public async Task Drop()
    {
        await Change((h, edits) =>
        {
            if (_documentCount > 0) throw new ConflictException($"{_documentCount} document(s) remain; delete them first");
            if (h.Settings is { } s)
                foreach (var key in s.WriteLayouts.SelectMany(l => l.ShardKeys(this.GetPrimaryKeyString()))) edits.Put(RetireSet, key, []);
            return h with { Settings = null, Deleting = false };
        });
        ResumeReshardWork();
    }

    public Task<long> DocumentChanged(string documentId, bool present, int[]? wroteLayouts = null, long incarnation = 0) => Change((h, edits) =>
    {
        if (!present)
        {
            if (!Owns(h, incarnation)) return h; // another creation's document: nothing of it is registered here
            RequireWritten(h, wroteLayouts ?? [0]);
            edits.Delete(Registered, documentId);
            edits.Delete(Unsettled, documentId);
            return h;
        }
        RequireWritten(h, wroteLayouts ?? [0]);
        // Still unsettled: the document's own "indexed" write comes after this, and a crash may fall between them.
        h = RequireOpen(h, incarnation);
        edits.Put(Registered, documentId, []);
        return h;
    });

    public Task<long> DocumentsAdded(string[] documentIds, int wroteLayout = 0, long incarnation = 0) => Change((h, edits) =>
    {
        h = RequireOpen(h, incarnation);
        RequireWritten(h, [wroteLayout]);
        foreach (var id in documentIds) edits.Put(Registered, id, []);
        return h;
    });

    public async Task<Acceptance> DocumentsAccepted(string[] documentIds)
    {
        // A stamp no other acceptance of this activation shares, so a settled notice never removes a later one's record.
        var stamp = _lastAcceptance = Math.Max(DateTime.UtcNow.Ticks, _lastAcceptance + 1);
        var now = Ticks(stamp);
        var busy = new List<string>();
        var records = new DocumentRecord?[documentIds.Length];
        long floor = 0, incarnation = 0;
        await Change((h, edits) =>
        {
            h = RequireOpen(h);
            (floor, incarnation) = (h.LastBulkVersion, h.Settings!.Incarnation);
            for (var i = 0; i < documentIds.Length; i++)
            {
                var id = documentIds[i];
                records[i] = RegisteredRecord(edits.Read(Registered, id));
                if (BulkMarker(edits.Read(Unsettled, id)) is not null) busy.Add(id); // a bulk write of it is in flight
                else edits.Put(Unsettled, id, now);
            }
            return h;
        }, documentIds.SelectMany(id => new[] { (Unsettled, id), (Registered, id) }).ToList());
        if (busy.Count < documentIds.Length) await EnsureSweepReminderAsync();
        return new Acceptance(stamp, busy.ToArray(), records, floor) { Incarnation = incarnation };
    }

    public Task DocumentSettled(string documentId, long[] acceptedAt) => Change((h, edits) =>
    {
        foreach (var at in acceptedAt) edits.DeleteIf(Unsettled, documentId, Ticks(at));
        return h;
    });

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
            await Reminders(() => this.RegisterOrUpdateReminder(SweepReminder, _ingest.PendingSweepPeriod, _ingest.PendingSweepPeriod));
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
                    }
                    catch (Exception e)
                    {
                        log.LogWarning("Sweep of collection {Collection} could not reach document {Document}; the next tick retries: {Error}", key, entry.Key, e.Message);
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
                        // A bulk write whose chunks reached its shard is registered, as its EndBulk would have.
                        if (_finishedBulk.Remove(id, out var record) && h is { Settings: not null, Deleting: false }
                            && edits.Read(Unsettled, id) is { } now && now.AsSpan().SequenceEqual(at))
                            edits.Put(Registered, id, serializer.SerializeToArray(record));
                        edits.DeleteIf(Unsettled, id, at);
                    }
                    return h;
                }, settled.Select(s => (Unsettled, s.Id)).ToList());
            _finishedBulk.Clear();
            if (page.Count < SweepPage) break;
        }
        if (waiting > 0) log.LogInformation("Sweep of collection {Collection}: {Unsettled} document(s) not settled yet", key, waiting);
        await _reminderTurn.WaitAsync();
        try
        {
            if (_unsettledCount > 0) return;
            // Not held from here on, before the calls: an acceptance stored meanwhile then waits for this turn and
            // registers again, where it used to see "held", return, and leave its document with no sweep.
            _reminderHeld = false;
            if (await Reminders(() => this.GetReminder(SweepReminder)) is { } reminder) await Reminders(() => this.UnregisterReminder(reminder));
        }
        finally
        {
            _reminderTurn.Release();
        }
    }

    /// <summary>The reminder table is storage too: its failures reach callers as ours (a 503), not as the driver's.</summary>
    private static async Task<T> Reminders<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (OrleansException e) when (e.GetType() == typeof(OrleansException) && e.InnerException is null or TimeoutException)
        {
            // The reminder service itself is not ready (still loading, or its first load failed): say so, not "timed out".
            throw new StorageUnavailableException($"reminder service unavailable: {e.Message.Split('\n')[0].Trim()}");
        }
        catch (Exception e) when (StoreFaults.Translate(e, "a reminder change") is { } ours)
        {
            throw ours;
        }
        catch (ReminderException e)
        {
            throw new StorageUnavailableException($"reminder table unavailable: {e.Message.Split('\n')[0].Trim()}");
        }
    }

    private static Task<bool> Reminders(Func<Task> call) => Reminders(async () => { await call(); return true; });

    // Documents may register with a collection that was never created (data from before explicit creation): that pins
    // the settings it was indexed with. One that was deleted, or is being deleted, takes none.
    private CollectionHead RequireOpen(CollectionHead h, long incarnation = 0)
    {
        if (h.Deleting || (h.Settings is null && h.Version > 0)) throw new CollectionGoneException($"collection '{this.GetPrimaryKeyString()}' was deleted");
        if (h.RestoringUntil != 0) throw new CollectionGoneException($"collection '{this.GetPrimaryKeyString()}' is being restored and takes no documents until it is");
        if (!Owns(h, incarnation))
            throw new CollectionGoneException($"collection '{this.GetPrimaryKeyString()}' was deleted and created again since the document was accepted");
        return h.Settings is null ? h with { Settings = Settings with { Incarnation = h.Version + 1 } } : h;
    }

    /// <summary>Whether a document accepted by <paramref name="incarnation"/> (0: before incarnations were kept) belongs to this creation of the collection.</summary>
    private static bool Owns(CollectionHead h, long incarnation) => incarnation == 0 || h.Settings is null || h.Settings.Incarnation == incarnation;

    private static void Validate(CollectionSettings settings)
    {
        if (settings.ShardCount is < 1 or > 256) throw new InvalidRequestException("shardCount must be 1..256");
        if (settings.ReplicationFactor > 16) throw new InvalidRequestException("replicationFactor must be 1..16");
        if (settings.ChunkMaxTokens is < 16 or > 8192) throw new InvalidRequestException("chunkMaxTokens must be 16..8192");
        if (settings.ChunkOverlapTokens < 0 || settings.ChunkOverlapTokens >= settings.ChunkMaxTokens / 2)
            throw new InvalidRequestException("chunkOverlapTokens must be 0..chunkMaxTokens/2");
        if (settings.Dimensions is < 1 or > OwnVectorChunks.MaxDimensions) throw new InvalidRequestException($"dimensions must be 1..{OwnVectorChunks.MaxDimensions}");
        Quantizations.Encoding(settings.Quantization); // throws InvalidRequestException for a value it does not know
    }

    private static byte[] Ticks(DateTime at) => Ticks(at.Ticks);
    private static byte[] Ticks(long ticks) => BitConverter.GetBytes(ticks);

    /// <summary>
    /// The row changes of one batch of changes, one per set and key (the last wins). A change records into its own
    /// list, merged only if it returns, so a change refused by its check leaves nothing behind.
    /// </summary>
    private sealed class RowEdits
    {
        private readonly Dictionary<(string Set, string Key), RowChange> _batch;
        private readonly Dictionary<(string Set, string Key), byte[]> _stored;
        private readonly List<RowChange> _mine = [];

        public RowEdits(Dictionary<(string, string), RowChange> batch, Dictionary<(string, string), byte[]> stored) => (_batch, _stored) = (batch, stored);

        /// <summary>
        /// The row as this batch leaves it so far (this change's edits included), or as stored: only rows the change named
        /// when it was queued were read (null: no such row).
        /// </summary>
        public byte[]? Read(string set, string key)
        {
            for (var i = _mine.Count - 1; i >= 0; i--)
                if (_mine[i].Set == set && _mine[i].Key == key && _mine[i].OnlyIf is null) return _mine[i].Value;
            var stored = _stored.GetValueOrDefault((set, key));
            if (!_batch.TryGetValue((set, key), out var earlier)) return stored;
            if (earlier.OnlyIf is null) return earlier.Value;
            // A conditional delete earlier in the batch removes the row if it still holds that value.
            return stored is not null && stored.AsSpan().SequenceEqual(earlier.OnlyIf) ? null : stored;
        }

        public void Put(string set, string key, byte[] value) => _mine.Add(new RowChange(set, key, value));
        public void Delete(string set, string key) => _mine.Add(new RowChange(set, key, null));

        /// <summary>Deletes the row only if it still holds <paramref name="value"/>, in storage or in this batch.</summary>
        public void DeleteIf(string set, string key, byte[] value)
        {
            if (_batch.TryGetValue((set, key), out var earlier))
            {
                if (earlier.Value is not null && earlier.Value.AsSpan().SequenceEqual(value)) _mine.Add(new RowChange(set, key, null));
                return; // put with another value, or deleted already
            }
            _mine.Add(new RowChange(set, key, null, OnlyIf: value));
        }

        /// <summary>Whether an earlier change of this batch adds rows to <paramref name="set"/> (the stored counts do not show them yet).</summary>
        public bool Adds(string set) => _batch.Values.Any(c => c.Set == set && c.Value is not null);

        public void Commit()
        {
            foreach (var change in _mine) _batch[(change.Set, change.Key)] = change;
        }
    }

    // Group commit: a change that finds no write in flight is written at once; those that arrive while one is in flight
    // share the next, which starts as soon as it ends. So a lone change waits for one transaction, and under a bulk
    // ingest (documents finishing one by one) a write takes everything that queued during the one before. (Writes used
    // to start at most every 250 ms: a single document's acknowledgement then took 230 ms on an idle silo.)
    // A change refused by its check fails alone; a failed write fails every change in it.
    private readonly List<(Func<CollectionHead, RowEdits, CollectionHead> Change, TaskCompletionSource<long> Done, IReadOnlyList<(string, string)>? Reads)> _queued = [];
    private Task? _writer;

    /// <summary>
    /// Queues a change (which checks before it changes anything) and completes with the version that stored it. The rows
    /// it names in <paramref name="reads"/> are read (in one query a set for the whole batch) before it runs, so it may
    /// decide on them (<see cref="RowEdits.Read"/>): nothing else writes them between that read and this write.
    /// </summary>
    private Task<long> Change(Func<CollectionHead, RowEdits, CollectionHead> change, IReadOnlyList<(string Set, string Key)>? reads = null)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queued.Add((change, done, reads));
        if (_writer is null or { IsCompleted: true }) _writer = WriteQueuedAsync();
        return done.Task;
    }

    private async Task WriteQueuedAsync()
    {
        while (_queued.Count > 0)
        {
            var batch = _queued.ToList();
            _queued.Clear();
            var stored = new Dictionary<(string, string), byte[]>();
            try
            {
                foreach (var set in batch.Where(b => b.Reads is not null).SelectMany(b => b.Reads!).GroupBy(r => r.Item1))
                    foreach (var (key, value) in await rows.ReadAsync(set.Key, set.Select(r => r.Item2).ToList()))
                        stored[(set.Key, key)] = value;
            }
            catch (Exception e)
            {
                foreach (var (_, done, _) in batch) done.TrySetException(e); // nothing written: the next batch may go on
                continue;
            }
            var head = _head;
            var edits = new Dictionary<(string, string), RowChange>();
            var applied = new List<(TaskCompletionSource<long> Done, long Version)>();
            foreach (var (change, done, _) in batch)
            {
                try
                {
                    var mine = new RowEdits(edits, stored);
                    head = change(head, mine) with { Version = head.Version + 1 };
                    mine.Commit();
                    applied.Add((done, head.Version));
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                }
            }
            if (applied.Count == 0) continue;
            try
            {
                var gained = await rows.WriteAsync(serializer.SerializeToArray(head), edits.Values.ToList());
                _head = head;
                _documentCount += gained.GetValueOrDefault(Registered);
                _unsettledCount += gained.GetValueOrDefault(Unsettled);
                _retireCount += gained.GetValueOrDefault(RetireSet);
            }
            catch (Exception e)
            {
                // Nothing of this batch is kept in memory, and the activation goes: a write whose connection broke may have
                // committed after all, and the next activation reads which. What queued meanwhile fails too; callers retry.
                this.DeactivateOnIdle();
                foreach (var (done, _) in applied) done.TrySetException(e);
                foreach (var (_, done, _) in _queued) done.TrySetException(e);
                _queued.Clear();
                return;
            }
            foreach (var (done, version) in applied) done.TrySetResult(version);
        }
    }
}
