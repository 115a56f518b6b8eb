using RagCluster.Grains.Interfaces.Rag;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;

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
}

public sealed class CollectionGrain(
    [PersistentState("collection")] IPersistentState<CollectionState> state, CollectionDefaults defaults) : Grain, ICollectionGrain
{
    private CollectionSettings Settings =>
        state.State.Settings ?? new CollectionSettings(defaults.ShardCount, defaults.ChunkMaxTokens, defaults.ChunkOverlapTokens);

    public Task<CollectionInfo> GetInfo() => Task.FromResult(new CollectionInfo(this.GetPrimaryKeyString(), Settings, state.State.Version,
        state.State.Documents.Count, state.State.Documents.Order(StringComparer.Ordinal).ToArray()));

    public Task<CollectionSettings> GetSettings() => Task.FromResult(Settings);

    public Task<bool> Exists() => Task.FromResult(state.State.Settings is not null);

    public async Task<CollectionSettings> Create(CollectionSettings settings)
    {
        if (state.State.Settings is not null) throw new InvalidOperationException("the collection already exists");
        return await Configure(settings);
    }

    public async Task<CollectionSettings> Configure(CollectionSettings settings)
    {
        if (settings.ShardCount is < 1 or > 256) throw new ArgumentException("shardCount must be 1..256");
        if (settings.ChunkMaxTokens is < 16 or > 8192) throw new ArgumentException("chunkMaxTokens must be 16..8192");
        if (settings.ChunkOverlapTokens < 0 || settings.ChunkOverlapTokens >= settings.ChunkMaxTokens / 2)
            throw new ArgumentException("chunkOverlapTokens must be 0..chunkMaxTokens/2");
        if (state.State.Documents.Count > 0 && settings.ShardCount != Settings.ShardCount)
            throw new InvalidOperationException("the shard count cannot change once a collection has documents");
        state.State.Settings = settings;
        state.State.Version++;
        await SaveAsync();
        return settings;
    }

    public async Task Drop()
    {
        if (state.State.Documents.Count > 0) throw new InvalidOperationException($"{state.State.Documents.Count} document(s) remain; delete them first");
        state.State.Settings = null;
        state.State.Version++; // never reused: a re-created collection's cache keys cannot meet the old ones
        await SaveAsync();
    }

    public Task<long> DocumentChanged(string documentId, bool present)
    {
        if (present) state.State.Documents.Add(documentId);
        else state.State.Documents.Remove(documentId);
        return RegistryChangedAsync();
    }

    public Task<long> DocumentsAdded(string[] documentIds)
    {
        state.State.Documents.UnionWith(documentIds);
        return RegistryChangedAsync();
    }

    private async Task<long> RegistryChangedAsync()
    {
        state.State.Settings ??= Settings; // pin the settings the first document was indexed with
        var version = ++state.State.Version;
        await SaveAsync();
        return version;
    }

    // Group commit: the registry is rewritten whole, so while one write is in flight every change that arrives
    // shares the next one instead of queueing a write each; and writes start at most every MinWriteInterval, or a
    // bulk ingest (documents finishing one by one, each write a few ms) still made one O(n) write per document.
    private static readonly TimeSpan MinWriteInterval = TimeSpan.FromMilliseconds(250);
    private Task? _writing, _next;
    private DateTime _lastWriteStarted;

    private Task SaveAsync()
    {
        if (_next is not null) return _next;
        if (_writing is null or { IsCompleted: true } && DateTime.UtcNow - _lastWriteStarted >= MinWriteInterval) return _writing = StartWrite();
        return _next = WriteAfterAsync(_writing ?? Task.CompletedTask);
    }

    private async Task WriteAfterAsync(Task previous)
    {
        await previous.ContinueWith(_ => { }, TaskScheduler.Current); // its failure belongs to its own callers
        var wait = _lastWriteStarted + MinWriteInterval - DateTime.UtcNow;
        if (wait > TimeSpan.Zero) await Task.Delay(wait);
        _next = null;
        _writing = StartWrite();
        await _writing;
    }

    private Task StartWrite()
    {
        _lastWriteStarted = DateTime.UtcNow;
        return state.WriteStateAsync();
    }
}
