using RagCluster.Grains.Querying;
using RagCluster.Resilience;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// A request does not wait on a grain whose silo just died (issue 60): a call unanswered within the patience is
/// answered by the last known answer, no older than its bound, and the grain is then suspect (not waited on) until one
/// of its calls answers.
/// </summary>
[Trait("Category", "Unit")]
public sealed class LastKnownTests
{
    private static readonly GrainId Grain = GrainId.Create("collection", "t.docs");
    private static QueryOptions Options() => new QueryOptions { PatienceMs = 100, LastKnownForSeconds = 60 };

    [Fact]
    public async Task An_unanswered_grain_is_stood_in_for_by_its_last_answer_and_not_waited_on_again_until_it_answers()
    {
        var clock = new ManualClock();
        var options = Options();
        var patience = new Patience(options);
        var known = new LastKnown<string, int>(patience, options, clock);
        Assert.Equal((1, true), await known.GetAsync(Grain, "k", () => Task.FromResult(1)));

        // The silo died: the call hangs. The last answer stands in after the patience, not after the hang.
        var hung = new TaskCompletionSource<int>();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal((1, false), await known.GetAsync(Grain, "k", () => hung.Task));
        Assert.InRange(sw.ElapsedMilliseconds, 90, 5_000);
        Assert.True(patience.IsSuspect(Grain));

        // Suspect: the next request is not made to wait at all (with an hour's patience it would wait an hour).
        options.PatienceMs = 3_600_000;
        var slow = new TaskCompletionSource<int>();
        Assert.Equal((1, false), await known.GetAsync(Grain, "k", () => slow.Task).WaitAsync(TimeSpan.FromSeconds(10)));

        // The grain answers again (placed on a live silo): no longer suspect, and that answer is the one now known.
        slow.SetResult(2);
        await WaitUntil(() => !patience.IsSuspect(Grain));
        options.PatienceMs = 100;
        var never = new TaskCompletionSource<int>();
        Assert.Equal((2, false), await known.GetAsync(Grain, "k", () => never.Task));
        Assert.Equal((3, true), await known.GetAsync(Grain, "k", () => Task.FromResult(3)));
    }

    [Fact]
    public async Task With_no_answer_young_enough_the_request_waits_for_the_grain_and_sees_its_failure()
    {
        var clock = new ManualClock();
        var options = Options();
        var known = new LastKnown<string, int>(new Patience(options), options, clock);
        await known.GetAsync(Grain, "k", () => Task.FromResult(1));
        clock.Now += TimeSpan.FromSeconds(61);
        var failing = new TaskCompletionSource<int>();
        var call = known.GetAsync(Grain, "k", () => failing.Task);
        await Task.Delay(300); // what must not happen: an answer after the patience (100 ms), with nothing that may stand in
        Assert.False(call.IsCompleted);
        failing.SetException(new SiloUnavailableException("the silo is gone"));
        await Assert.ThrowsAsync<SiloUnavailableException>(() => call);
        // A failure that is not a silo's (a bug, a refusal) is never papered over by an old answer.
        await known.GetAsync(Grain, "k", () => Task.FromResult(1));
        await Assert.ThrowsAsync<InvalidOperationException>(() => known.GetAsync(Grain, "k", () => Task.FromException<int>(new InvalidOperationException("no"))));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), "condition not met in 10 s");
            await Task.Delay(10);
        }
    }
}
