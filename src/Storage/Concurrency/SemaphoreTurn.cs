namespace RagCluster.Storage.Concurrency;

public static class SemaphoreTurn
{
    /// <summary>Waits for a place in the semaphore; disposing the result (once or more) gives it back once.</summary>
    public static async ValueTask<IDisposable> EnterAsync(this SemaphoreSlim semaphore, CancellationToken ct = default)
    {
        await semaphore.WaitAsync(ct);
        return new Turn(semaphore);
    }

    private sealed class Turn(SemaphoreSlim semaphore) : IDisposable
    {
        private int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) semaphore.Release();
        }
    }
}
