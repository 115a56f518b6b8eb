namespace RagCluster.Grains.Indexing;

/// <summary>
/// Which of a silo's shard loads go first after a restart: a load a request waits on (any activation the start-up's
/// wake-up did not ask for) starts at once, and the wake-up's next loads wait until no such load runs, so the first
/// search waits on its own shards rather than on every shard of the silo (issue 73, item 3).
/// </summary>
public sealed class ShardLoadOrder
{
    private readonly object _gate = new();
    private readonly HashSet<string> _waking = [];
    private int _asked; // loads in progress that a request asked for
    private TaskCompletionSource _none = Done();

    /// <summary>The wake-up is about to call <paramref name="shard"/>: its load, if the call starts one, may wait.</summary>
    public void Waking(string shard)
    {
        lock (_gate) _waking.Add(shard);
    }

    public void Woken(string shard)
    {
        lock (_gate) _waking.Remove(shard);
    }

    /// <summary>Loads in progress that a request asked for.</summary>
    public int AskedLoads
    {
        get { lock (_gate) return _asked; }
    }

    /// <summary>
    /// Waits for <paramref name="shard"/>'s turn to load; dispose the result when the load has ended. A load the
    /// wake-up asked for waits while a request's loads run; any other goes at once.
    /// </summary>
    public async ValueTask<IDisposable> EnterAsync(string shard, CancellationToken cancellationToken)
    {
        Task before;
        lock (_gate)
        {
            if (!_waking.Contains(shard))
            {
                if (_asked++ == 0) _none = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return new Turn(this);
            }
            before = _none.Task;
        }
        await before.WaitAsync(cancellationToken);
        return Nothing.Instance;
    }

    private void Leave()
    {
        lock (_gate)
            if (--_asked == 0) _none.TrySetResult();
    }

    private static TaskCompletionSource Done()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }

    private sealed class Turn(ShardLoadOrder order) : IDisposable
    {
        private int _left;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0) order.Leave();
        }
    }

    private sealed class Nothing : IDisposable
    {
        public static readonly Nothing Instance = new();
        public void Dispose() { }
    }
}
