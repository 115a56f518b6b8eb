using System.Collections.Concurrent;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Resilience;

/// <summary>
/// Answers on a request's path that a grain gives in a millisecond when all is well (a collection's existence and
/// settings, an API key's check). When the grain does not answer within the <see cref="Patience"/>, or fails as a silo
/// does (gone, unreachable), the last answer this silo had for the same key stands in, if it is at most
/// <see cref="IPatienceSettings.LastKnownForSeconds"/> (Query:LastKnownForSeconds) old; with none that young, the request waits for the grain.
/// </summary>
public sealed class LastKnown<TKey, TValue>(Patience patience, IPatienceSettings settings, TimeProvider time) where TKey : notnull
{
    private sealed record Answer(TValue Value, long At);
    private const int MaxKeys = 10_000;
    private readonly ConcurrentDictionary<TKey, Answer> _answers = new();

    /// <summary><paramref name="call"/>'s answer (Fresh), or the last known one (not Fresh) while <paramref name="grain"/> does not answer.</summary>
    /// <exception cref="Exception">The call's own failure, where there is no last answer young enough to stand in.</exception>
    public async Task<(TValue Value, bool Fresh)> GetAsync(GrainId grain, TKey key, Func<Task<TValue>> call, CancellationToken ct = default)
    {
        var known = _answers.TryGetValue(key, out var last) && time.GetElapsedTime(last.At) <= TimeSpan.FromSeconds(settings.LastKnownForSeconds) ? last : null;
        var answer = call();
        if (known is null) return (Remember(key, await answer.WaitAsync(ct)), true);
        try
        {
            return (Remember(key, await patience.WaitAsync(grain, answer, ct)), true);
        }
        catch (Exception e) when (!ct.IsCancellationRequested && DocumentRefusal.IsTransient(e))
        {
            // Still in flight: when it answers after all, its answer is the one to keep (kept as it completes, as the
            // grain stops being suspect, so no request between the two sees the grain back with the old answer).
            _ = answer.ContinueWith(t => Remember(key, t.Result), CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return (known.Value, false);
        }
    }

    private TValue Remember(TKey key, TValue value)
    {
        if (_answers.Count >= MaxKeys) _answers.Clear(); // bounded: a flood of distinct keys cannot grow it
        _answers[key] = new Answer(value, time.GetTimestamp());
        return value;
    }
}
