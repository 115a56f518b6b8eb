using System.Text.Json;

namespace RagCluster.Runtime.Storage;

/// <summary>
/// State stored as JSON (readable in the database, tolerant of added fields), written conditionally on its ETag.
/// </summary>
internal sealed class PersistentState<TState>(IGrainStorage storage, GrainId grain, string stateName) : IPersistentState<TState>, IStateLoader
    where TState : new()
{
    private static readonly JsonSerializerOptions Json = new() { IncludeFields = true };

    public TState State { get; set; } = new();
    public string? ETag { get; private set; }
    public bool RecordExists => ETag is not null;

    public async Task ReadStateAsync(CancellationToken cancellationToken = default)
    {
        var stored = await storage.ReadAsync(grain, stateName, cancellationToken);
        if (stored is null)
        {
            State = new TState();
            ETag = null;
            return;
        }
        try
        {
            State = JsonSerializer.Deserialize<TState>(stored.Data, Json) ?? new TState();
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"stored state '{stateName}' of {grain} is not a valid {typeof(TState).Name}: {e.Message}", e);
        }
        ETag = stored.ETag;
    }

    public async Task WriteStateAsync(CancellationToken cancellationToken = default)
    {
        var data = JsonSerializer.SerializeToUtf8Bytes(State, Json);
        ETag = await storage.WriteAsync(grain, stateName, data, ETag, cancellationToken);
    }

    public async Task ClearStateAsync(CancellationToken cancellationToken = default)
    {
        await storage.ClearAsync(grain, stateName, ETag, cancellationToken);
        ETag = null;
        State = new TState();
    }
}

/// <summary>Lets the runtime load any state before activation without knowing its type.</summary>
internal interface IStateLoader
{
    Task ReadStateAsync(CancellationToken cancellationToken);
}
