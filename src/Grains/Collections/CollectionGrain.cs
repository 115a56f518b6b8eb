using RagCluster.Grains.Interfaces.Rag;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Persistence;

namespace RagCluster.Grains.Collections;

/// <summary>Defaults for new collections, bound from the "Collections" configuration section.</summary>
public sealed class CollectionDefaults
{
    public int ShardCount { get; set; } = 4;
    public int ChunkMaxTokens { get; set; } = 256;
    public int ChunkOverlapTokens { get; set; } = 32;
}

[GenerateSerializer, Alias("rc.CollectionState")]
public sealed class CollectionState
{
    [Id(0)] public CollectionSettings? Settings { get; set; }
    [Id(1)] public long Version { get; set; }
    [Id(2)] public HashSet<string> Documents { get; set; } = [];
    /// <summary>A delete has begun: no document may register any more, until <c>Drop</c> ends it.</summary>
    [Id(3)] public bool Deleting { get; set; }
}

/// <summary>
/// A collection's settings, document registry and version (which cache keys include). Every change, from any caller,
/// is applied in one order to a copy of the stored state and stored before its caller hears back (see DurableState),
/// so a drop cannot interleave with a registration, and a failed write leaves nothing in memory.
/// </summary>
public sealed class CollectionGrain(
    [PersistentState("collection")] IPersistentState<CollectionState> stored, IGrainContext context, DeepCopier copier, CollectionDefaults defaults)
    : Grain, ICollectionGrain
{
    private readonly DurableState<CollectionState> _state = new(stored, context, copier);

    private CollectionSettings Settings =>
        _state.Current.Settings ?? new CollectionSettings(defaults.ShardCount, defaults.ChunkMaxTokens, defaults.ChunkOverlapTokens);

    public Task<CollectionInfo> GetInfo() => Task.FromResult(new CollectionInfo(this.GetPrimaryKeyString(), Settings, _state.Current.Version,
        _state.Current.Documents.Count, _state.Current.Documents.Order(StringComparer.Ordinal).ToArray()));

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
            return;
        }
        RequireOpen(s);
        s.Documents.Add(documentId);
    });

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
