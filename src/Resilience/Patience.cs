using System.Collections.Concurrent;

namespace RagCluster.Resilience;

/// <summary>
/// How long a request waits on a grain that answers in a millisecond when all is well (<see cref="IPatienceSettings.PatienceMs"/>, Query:PatienceMs).
/// A call in flight to a silo killed a moment ago is answered by no one until the cluster declares that silo dead
/// (seconds), and no request may wait for that (issue 60). A grain that let a call go unanswered past the patience is
/// suspect, on this silo, until one of its calls answers: calls to it are then not waited on at all, so the requests
/// behind the first pay nothing, and the first answer (the grain placed again on a live silo) clears it.
/// </summary>
public sealed class Patience(IPatienceSettings settings)
{
    private const int MaxSuspects = 10_000;
    private readonly ConcurrentDictionary<GrainId, byte> _suspects = new();

    /// <summary>Whether <paramref name="grain"/> let a call go unanswered and none has answered since.</summary>
    public bool IsSuspect(GrainId grain) => _suspects.ContainsKey(grain);

    /// <summary><paramref name="call"/>'s answer, or a <see cref="TimeoutException"/> once the patience (none, for a suspect grain) has run out.</summary>
    public async Task<T> WaitAsync<T>(GrainId grain, Task<T> call, CancellationToken ct = default)
    {
        await WaitAsync(grain, (Task)call, ct);
        return call.Result;
    }

    /// <inheritdoc cref="WaitAsync{T}(GrainId, Task{T}, CancellationToken)"/>
    public async Task WaitAsync(GrainId grain, Task call, CancellationToken ct = default)
    {
        var id = grain;
        call.Ignore(); // a call given up on still ends some time: its failure is not an unobserved one
        if (!call.IsCompleted)
            _ = call.ContinueWith(_ => _suspects.TryRemove(id, out var _), CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            await call.WaitAsync(_suspects.ContainsKey(id) ? TimeSpan.Zero : TimeSpan.FromMilliseconds(settings.PatienceMs), ct);
        }
        catch (TimeoutException) when (!call.IsCompleted)
        {
            if (_suspects.Count >= MaxSuspects) _suspects.Clear();
            _suspects.TryAdd(id, 0);
            throw;
        }
    }
}
