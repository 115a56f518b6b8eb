using RagCluster.Grains.Interfaces.Rag;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using RagCluster.Grains.Interfaces.Errors;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Persistence;
using RagCluster.Storage.Faults;

namespace RagCluster.Grains.Collections;

/// <summary>Defaults for new collections, bound from the "Collections" configuration section.</summary>
public sealed class CollectionDefaults
{
    public int ShardCount { get; set; } = 4;
    public int ChunkMaxTokens { get; set; } = 256;
    public int ChunkOverlapTokens { get; set; } = 32;
}

/// <summary>How often a collection with unsettled documents checks them (<c>Ingest:PendingSweepPeriod</c>), and so how
/// long a document stranded by a crash can wait once the cluster is back (one period at most, plus the silo's start).</summary>
public sealed record PendingSweepOptions(TimeSpan Period)
{
    public static PendingSweepOptions Default { get; } = new(TimeSpan.FromSeconds(30));
}

[GenerateSerializer, Alias("rc.CollectionState")]
public sealed class CollectionState
{
    [Id(0)] public CollectionSettings? Settings { get; set; }
    [Id(1)] public long Version { get; set; }
    [Id(2)] public HashSet<string> Documents { get; set; } = [];
    /// <summary>A delete has begun: no document may register any more, until <c>Drop</c> ends it.</summary>
    [Id(3)] public bool Deleting { get; set; }
    /// <summary>
    /// Documents accepted and perhaps not yet indexed, with when they were (last) accepted: stored before a document's
    /// own state; left when a sweep finds the document settled, or when it is deleted. A superset is harmless; a missing
    /// id could strand a document.
    /// </summary>
    [Id(4)] public Dictionary<string, DateTime> Unsettled { get; set; } = [];
}

/// <summary>
/// A collection's settings, document registry and version (which cache keys include). Every change, from any caller,
/// is applied in one order to a copy of the stored state and stored before its caller hears back (see DurableState),
/// so a drop cannot interleave with a registration, and a failed write leaves nothing in memory.
/// While it has unsettled documents it holds an Orleans reminder, which fires on whichever silo owns it even after every
/// silo restarted: each tick activates those documents, and a pending document resumes indexing when it activates.
/// </summary>
public sealed class CollectionGrain(
    [PersistentState("collection")] IPersistentState<CollectionState> stored, IGrainContext context, DeepCopier copier, CollectionDefaults defaults,
    PendingSweepOptions sweep, ILogger<CollectionGrain> log)
    : Grain, ICollectionGrain, IRemindable
{
    private const string SweepReminder = "unsettled-documents";

    private readonly DurableState<CollectionState> _state = new(stored, context, copier);

    private CollectionSettings Settings =>
        _state.Current.Settings ?? new CollectionSettings(defaults.ShardCount, defaults.ChunkMaxTokens, defaults.ChunkOverlapTokens);

    public Task<CollectionInfo> GetInfo() => Task.FromResult(new CollectionInfo(this.GetPrimaryKeyString(), Settings, _state.Current.Version,
        _state.Current.Documents.Count, _state.Current.Documents.Order(StringComparer.Ordinal).ToArray()) { UnsettledCount = _state.Current.Unsettled.Count });

    public Task<CollectionSettings> GetSettings() => Task.FromResult(Settings);

    public Task<bool> Exists() => Task.FromResult(_state.Current.Settings is not null);

    public Task<bool> IsDeleting() => Task.FromResult(_state.Current.Deleting);

    public async Task<CollectionSettings> Create(CollectionSettings settings)
    {
        Validate(settings);
        await Change(s =>
        {
            if (s.Settings is not null) throw new InvalidOperationException(s.Deleting ? "the collection is being deleted" : "the collection already exists");
            s.Settings = settings;
        });
        return settings;
    }

    public async Task<CollectionSettings> Configure(CollectionSettings settings)
    {
        Validate(settings);
        await Change(s =>
        {
            if (s.Deleting) throw new CollectionGoneException("the collection is being deleted");
            if (s.Documents.Count > 0 && settings.ShardCount != (s.Settings ?? Settings).ShardCount)
                throw new InvalidOperationException("the shard count cannot change once a collection has documents");
            s.Settings = settings;
        });
        return settings;
    }

    public Task BeginDelete() => Change(s =>
    {
        // A collection that only ever existed implicitly (documents without Create) is deleted too.
        s.Settings ??= s.Documents.Count > 0 ? Settings : throw new KeyNotFoundException("no such collection");
        s.Deleting = true;
    });

    public Task Drop() => Change(s =>
    {
        if (s.Documents.Count > 0) throw new InvalidOperationException($"{s.Documents.Count} document(s) remain; delete them first");
        s.Settings = null;
        s.Deleting = false;
        // The version moves on (every change does) and is never reused: a re-created collection's cache keys cannot meet the old ones.
    });

    public Task<long> DocumentChanged(string documentId, bool present) => Change(s =>
    {
        if (!present)
        {
            s.Documents.Remove(documentId);
            s.Unsettled.Remove(documentId);
            return;
        }
        // Still unsettled: the document's own "indexed" write comes after this, and a crash may fall between them.
        RequireOpen(s);
        s.Documents.Add(documentId);
    });

    public async Task DocumentsAccepted(string[] documentIds)
    {
        var now = DateTime.UtcNow;
        await Change(s =>
        {
            RequireOpen(s);
            foreach (var id in documentIds) s.Unsettled[id] = now;
        });
        await EnsureSweepReminderAsync();
    }

    // Register and unregister take turns, each deciding on the stored set: a sweep that found the set empty cannot
    // remove the reminder after a new acceptance (stored meanwhile) registered it.
    private readonly SemaphoreSlim _reminderTurn = new(1, 1);
    private bool _reminderHeld;

    private async Task EnsureSweepReminderAsync()
    {
        if (_reminderHeld) return;
        await _reminderTurn.WaitAsync();
        try
        {
            if (_reminderHeld || _state.Current.Unsettled.Count == 0) return;
            await Reminders(() => this.RegisterOrUpdateReminder(SweepReminder, sweep.Period, sweep.Period));
            _reminderHeld = true;
        }
        finally
        {
            _reminderTurn.Release();
        }
    }

    /// <summary>
    /// Activates every unsettled document (a pending one resumes indexing on activation) and forgets those that are
    /// settled: indexed, failed or deleted, or never stored although accepted a whole period ago (a document answers
    /// "unknown" between its acceptance and its first write). Once none is left the reminder goes.
    /// </summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != SweepReminder) return;
        var accepted = _state.Current.Unsettled.ToArray();
        var settled = new List<KeyValuePair<string, DateTime>>(); // the calls' continuations take turns on this grain
        var key = this.GetPrimaryKeyString();
        var abandonedBefore = DateTime.UtcNow - sweep.Period;
        foreach (var group in accepted.Chunk(64))
        {
            await Task.WhenAll(group.Select(async entry =>
            {
                try
                {
                    var document = await GrainFactory.GetGrain<IDocumentGrain>($"{key}/{entry.Key}").GetStatus();
                    if (document.Status is DocumentStatuses.Indexed or DocumentStatuses.Failed or DocumentStatuses.Deleted
                        || (document.Version == 0 && entry.Value < abandonedBefore))
                        settled.Add(entry);
                }
                catch (Exception e)
                {
                    log.LogWarning("Sweep of collection {Collection} could not reach document {Document}; the next tick retries: {Error}", key, entry.Key, e.Message);
                }
            }));
        }
        if (accepted.Length > settled.Count)
            log.LogInformation("Sweep of collection {Collection}: {Unsettled} document(s) not settled yet", key, accepted.Length - settled.Count);
        // One accepted again while the sweep ran carries a newer time and stays.
        if (settled.Count > 0)
            await Change(s => { foreach (var (id, at) in settled) if (s.Unsettled.GetValueOrDefault(id) == at) s.Unsettled.Remove(id); });
        await _reminderTurn.WaitAsync();
        try
        {
            if (_state.Current.Unsettled.Count > 0) return;
            if (await Reminders(() => this.GetReminder(SweepReminder)) is { } reminder) await Reminders(() => this.UnregisterReminder(reminder));
            _reminderHeld = false;
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

    public Task<long> DocumentsAdded(string[] documentIds) => Change(s =>
    {
        RequireOpen(s);
        s.Documents.UnionWith(documentIds);
    });

    // Documents may register with a collection that was never created (data from before explicit creation): that pins
    // the settings it was indexed with. One that was deleted, or is being deleted, takes none.
    private void RequireOpen(CollectionState s)
    {
        if (s.Deleting || (s.Settings is null && s.Version > 0)) throw new CollectionGoneException($"collection '{this.GetPrimaryKeyString()}' was deleted");
        s.Settings ??= Settings;
    }

    private static void Validate(CollectionSettings settings)
    {
        if (settings.ShardCount is < 1 or > 256) throw new ArgumentException("shardCount must be 1..256");
        if (settings.ChunkMaxTokens is < 16 or > 8192) throw new ArgumentException("chunkMaxTokens must be 16..8192");
        if (settings.ChunkOverlapTokens < 0 || settings.ChunkOverlapTokens >= settings.ChunkMaxTokens / 2)
            throw new ArgumentException("chunkOverlapTokens must be 0..chunkMaxTokens/2");
    }

    // Group commit: the registry is rewritten whole, so changes that arrive while a write is in flight share the next
    // one, and writes start at most every MinWriteInterval (a bulk ingest's documents finish one by one, and one O(n)
    // write each was the cost). A change refused by its check fails alone; a failed write fails every change in it.
    private static readonly TimeSpan MinWriteInterval = TimeSpan.FromMilliseconds(250);
    private readonly List<(Action<CollectionState> Change, TaskCompletionSource<long> Done)> _queued = [];
    private Task? _writer;
    private DateTime _lastWriteStarted;

    /// <summary>Queues a change (which checks before it changes anything) and completes with the version that stored it.</summary>
    private Task<long> Change(Action<CollectionState> change)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queued.Add((change, done));
        if (_writer is null or { IsCompleted: true }) _writer = WriteQueuedAsync();
        return done.Task;
    }

    private async Task WriteQueuedAsync()
    {
        while (_queued.Count > 0)
        {
            var wait = _lastWriteStarted + MinWriteInterval - DateTime.UtcNow;
            if (wait > TimeSpan.Zero) await Task.Delay(wait);
            var batch = _queued.ToList();
            _queued.Clear();
            var applied = new List<(TaskCompletionSource<long> Done, long Version)>();
            _lastWriteStarted = DateTime.UtcNow;
            try
            {
                await _state.UpdateAsync(s =>
                {
                    foreach (var (change, done) in batch)
                    {
                        try
                        {
                            change(s);
                            applied.Add((done, ++s.Version));
                        }
                        catch (Exception e)
                        {
                            done.TrySetException(e);
                        }
                    }
                    return applied.Count > 0;
                });
            }
            catch (Exception e)
            {
                // Nothing of this batch is stored or kept; the activation is going (DurableState), so what queued meanwhile
                // fails too and its callers retry against the next activation, which reads what storage has.
                foreach (var (done, _) in applied) done.TrySetException(e);
                foreach (var (_, done) in _queued) done.TrySetException(e);
                _queued.Clear();
                return;
            }
            foreach (var (done, version) in applied) done.TrySetResult(version);
        }
    }
}
