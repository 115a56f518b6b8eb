using Orleans.Runtime;
using Orleans.Storage;
using RagCluster.Storage.Concurrency;

namespace RagCluster.Storage.Sqlite;

/// <summary>Orleans' grain storage over a SQLite file, its writes taken one at a time (see <see cref="SqliteWriteGate"/>).</summary>
public sealed class OneWriterGrainStorage(IGrainStorage inner, SemaphoreSlim writeGate) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        using var turn = await writeGate.EnterAsync();
        await inner.WriteStateAsync(stateName, grainId, grainState);
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        using var turn = await writeGate.EnterAsync();
        await inner.ClearStateAsync(stateName, grainId, grainState);
    }
}
