using System.Data.Common;
using Orleans.Storage;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Storage.Faults;

/// <summary>Turns what a database driver throws into <see cref="StorageUnavailableException"/>, keeping Orleans' own storage errors.</summary>
public static class StoreFaults
{
    /// <summary>
    /// Null when <paramref name="e"/> should pass as it is (an ETag conflict, a cancellation, our own types);
    /// otherwise ours, naming the operation and the driver's message (Orleans' ADO.NET provider logs a failed state
    /// read or write with its stack; grain-log failures keep only this message).
    /// </summary>
    public static Exception? Translate(Exception e, string operation)
    {
        if (e is InconsistentStateException or StorageUnavailableException or OperationCanceledException) return null;
        // Orleans' state bridge wraps a provider's exception in OrleansException; look at the driver's error inside.
        var cause = e is OrleansException { InnerException: { } inner } && e.GetType() == typeof(OrleansException) ? inner : e;
        if (cause is InconsistentStateException) return cause;
        return cause is DbException or TimeoutException or IOException or System.Net.Sockets.SocketException
            ? new StorageUnavailableException($"storage unavailable during {operation}: {FirstLine(cause.Message)}")
            : null;
    }

    /// <summary>Runs a storage operation, rethrowing driver failures as ours.</summary>
    public static async Task Run(Func<Task> operation, string name)
    {
        try
        {
            await operation();
        }
        catch (Exception e) when (Translate(e, name) is { } ours)
        {
            throw ours;
        }
    }

    /// <inheritdoc cref="Run(Func{Task}, string)"/>
    public static async Task<T> Run<T>(Func<Task<T>> operation, string name)
    {
        try
        {
            return await operation();
        }
        catch (Exception e) when (Translate(e, name) is { } ours)
        {
            throw ours;
        }
    }

    /// <summary>
    /// How long a read goes on trying while the store cannot be reached: a database restart or failover takes seconds,
    /// and a caller (a search waiting on a shard's activation) is better served late than refused. Writes are not
    /// retried here: one that failed mid-flight may have landed, and its caller decides.
    /// </summary>
    public static readonly TimeSpan ReadRetryWindow = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Runs a read, sending it again (100 ms, doubling to 1 s apart) while the driver calls its failure transient
    /// (<see cref="DbException.IsTransient"/>: refused connections, a server starting or shutting down, a timeout) and
    /// <see cref="ReadRetryWindow"/> has not passed; then as <see cref="Run{T}"/>. A read sent twice changes nothing.
    /// </summary>
    public static async Task<T> Read<T>(Func<Task<T>> read, string name, CancellationToken cancellationToken = default)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                return await read();
            }
            catch (Exception e) when (IsUnreachable(e) && clock.Elapsed + pause < ReadRetryWindow && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(pause, cancellationToken);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.TicksPerSecond));
            }
            catch (Exception e) when (Translate(e, name) is { } ours)
            {
                throw ours;
            }
        }
    }

    private static bool IsUnreachable(Exception e)
    {
        var cause = e is OrleansException { InnerException: { } inner } && e.GetType() == typeof(OrleansException) ? inner : e;
        return cause is DbException { IsTransient: true } or System.Net.Sockets.SocketException or TimeoutException;
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}

/// <summary>Orleans' grain storage with driver failures turned into <see cref="StorageUnavailableException"/>, on reads (activations, retried through a short outage) and writes.</summary>
public sealed class FaultTranslatingGrainStorage(IGrainStorage inner) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StoreFaults.Read(async () => { await inner.ReadStateAsync(stateName, grainId, grainState); return true; }, $"a read of {grainId}");

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StoreFaults.Run(() => inner.WriteStateAsync(stateName, grainId, grainState), $"a write of {grainId}");

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StoreFaults.Run(() => inner.ClearStateAsync(stateName, grainId, grainState), $"a clear of {grainId}");
}
