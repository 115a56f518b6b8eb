using System.Collections.Concurrent;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// A silo's threads for shards' long CPU work (linking a bulk insert into the graph, writing a snapshot): one fewer than
/// the cores (at least one), so a core is left for searches and the API. Work waits its turn in one queue.
/// Why not the thread pool: its minimum is one thread a core, and a work item that holds one for seconds leaves the
/// grains and the API waiting until the pool injects another.
/// </summary>
public sealed class IndexingThreads : IDisposable
{
    private readonly BlockingCollection<Action> _queue = [];

    public IndexingThreads() : this(Math.Max(1, Environment.ProcessorCount - 1)) { }

    public IndexingThreads(int threads)
    {
        Count = threads;
        for (var i = 0; i < threads; i++)
            new Thread(Work) { IsBackground = true, Name = $"rc-indexing-{i}" }.Start();
    }

    /// <summary>How many threads there are: also how many a background job (a compaction's rebuild) may use at once.</summary>
    public int Count { get; }

    /// <summary>
    /// Threads a shard's link pass on the write path uses: every core, the helpers beyond this queue's thread drawn from
    /// the thread pool, so the system shares the cores with searches and the API. With cores - 1 on 2 cores, own vectors
    /// loaded at 0.82-0.99x the index alone on one thread; with both, 1.17-1.40x in three runs (bench/results, issue 59).
    /// </summary>
    public int LinkThreads => Environment.ProcessorCount;

    public Task<T> Run<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add(() =>
        {
            try { done.SetResult(work()); }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task;
    }

    public Task Run(Action work) => Run(() => { work(); return true; });

    // Open unless a restart's shards are loading (ShardWakeup holds it): until they have, a reload's log tail waits to be
    // linked, so the loads get every core and the first search, which needs every shard loaded, comes sooner.
    private volatile Task _loadsDone = Task.CompletedTask;

    /// <summary>Completes when the shards this silo woke at start-up have loaded (at once when none are loading).</summary>
    public Task ShardLoads => _loadsDone;

    /// <summary>Holds <see cref="ShardLoads"/> until the returned handle is disposed.</summary>
    public IDisposable HoldForShardLoads()
    {
        var loading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _loadsDone = loading.Task;
        return new Release(loading);
    }

    private sealed class Release(TaskCompletionSource loading) : IDisposable
    {
        public void Dispose() => loading.TrySetResult();
    }

    private void Work()
    {
        foreach (var job in _queue.GetConsumingEnumerable()) job();
    }

    public void Dispose() => _queue.CompleteAdding();
}
