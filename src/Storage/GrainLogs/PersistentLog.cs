using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using RagCluster.Storage.Faults;

namespace RagCluster.Storage.GrainLogs;

/// <summary>One grain's log: tracks the sequence numbers and the epoch this activation holds.</summary>
internal sealed class PersistentLog(IGrainLogStore store, string grain, string logName) : IPersistentLog
{
    private long _epoch;
    private long _lastSeq;
    private long _snapshotSeq;

    public long LastSeq => _lastSeq;
    public int EntriesSinceSnapshot => (int)(_lastSeq - _snapshotSeq);
    public long BytesSinceSnapshot { get; private set; }

    // Driver failures leave as StorageUnavailableException (ours, serializable); a fence conflict stays InconsistentStateException.
    // A read that claims the log again on a retry only takes a newer epoch, which this activation then holds.
    public Task<(IReadOnlyList<byte[]>? Snapshot, IReadOnlyList<byte[]> Entries)> ReadAsync(CancellationToken cancellationToken = default) =>
        StoreFaults.Read(() => ReadCoreAsync(cancellationToken), $"a read of log '{logName}' of {grain}", cancellationToken);

    public Task AppendAsync(IReadOnlyList<byte[]> entries, CancellationToken cancellationToken = default) =>
        StoreFaults.Run(() => AppendCoreAsync(entries, cancellationToken), $"an append to log '{logName}' of {grain}");

    public Task SnapshotAsync(IAsyncEnumerable<byte[]> pages, CancellationToken cancellationToken = default) =>
        StoreFaults.Run(() => SnapshotCoreAsync(pages, cancellationToken), $"a snapshot of log '{logName}' of {grain}");

    private async Task<(IReadOnlyList<byte[]>? Snapshot, IReadOnlyList<byte[]> Entries)> ReadCoreAsync(CancellationToken cancellationToken)
    {
        _epoch = await store.ClaimAsync(grain, logName, cancellationToken);
        var snapshot = await store.ReadSnapshotAsync(grain, logName, cancellationToken);
        _snapshotSeq = snapshot?.Seq ?? 0;
        var entries = await store.ReadEntriesAsync(grain, logName, _snapshotSeq, cancellationToken);
        _lastSeq = entries.Count > 0 ? entries[^1].Seq : _snapshotSeq;
        BytesSinceSnapshot = entries.Sum(e => (long)e.Data.Length);
        return (snapshot?.Pages, entries.Select(e => e.Data).ToList());
    }

    private async Task AppendCoreAsync(IReadOnlyList<byte[]> entries, CancellationToken cancellationToken)
    {
        EnsureRead();
        if (entries.Count == 0) return;
        await store.AppendAsync(grain, logName, _epoch, _lastSeq + 1, entries, cancellationToken);
        _lastSeq += entries.Count;
        BytesSinceSnapshot += entries.Sum(e => (long)e.Length);
    }

    private async Task SnapshotCoreAsync(IAsyncEnumerable<byte[]> pages, CancellationToken cancellationToken)
    {
        EnsureRead();
        await store.WriteSnapshotAsync(grain, logName, _epoch, _lastSeq, pages, cancellationToken);
        _snapshotSeq = _lastSeq;
        BytesSinceSnapshot = 0;
    }

    private void EnsureRead()
    {
        if (_epoch == 0) throw new InvalidOperationException($"log '{logName}' of {grain} must be read (ReadAsync) before it is written");
    }
}

/// <summary>Creates the <see cref="IPersistentLog"/> of a [PersistentLog] constructor parameter, as Orleans does for [PersistentState].</summary>
internal sealed class PersistentLogAttributeMapper(IGrainLogStore store) : IAttributeToFactoryMapper<PersistentLogAttribute>
{
    public Factory<IGrainContext, object> GetFactory(ParameterInfo parameter, PersistentLogAttribute metadata) =>
        context => new PersistentLog(store, context.GrainId.ToString(), metadata.LogName);
}

internal static class LogConflicts
{
    public static InconsistentStateException Fenced(string grain, string logName, long epoch) =>
        new($"log '{logName}' of {grain}: epoch {epoch} is no longer the owner (another activation took the log over), or entry already written");
}

public static class GrainLogServiceCollectionExtensions
{
    /// <summary>Makes [PersistentLog] constructor parameters work, with logs kept in <paramref name="store"/>.</summary>
    public static IServiceCollection AddGrainLogs(this IServiceCollection services, Func<IServiceProvider, IGrainLogStore> store)
    {
        services.AddSingleton(store);
        services.AddSingleton<IAttributeToFactoryMapper<PersistentLogAttribute>, PersistentLogAttributeMapper>();
        return services;
    }
}
