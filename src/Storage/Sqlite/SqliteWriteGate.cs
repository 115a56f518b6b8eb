using System.Collections.Concurrent;
using RagCluster.Storage.Concurrency;

namespace RagCluster.Storage.Sqlite;

/// <summary>
/// One writer at a time per SQLite file in this process. SQLite admits one writer anyway; the others get SQLITE_BUSY,
/// and Microsoft.Data.Sqlite answers that by blocking the thread in Thread.Sleep(150) and trying again, so writers
/// queued by luck while pool threads slept. Writers queue here instead, in order and without blocking a thread.
/// </summary>
public static class SqliteWriteGate
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);

    /// <summary>The file's gate (one per file, however its path is spelled); take a turn with <see cref="SemaphoreTurn.EnterAsync"/>.</summary>
    public static SemaphoreSlim For(string path) => Gates.GetOrAdd(Path.GetFullPath(path), _ => new SemaphoreSlim(1, 1));
}
