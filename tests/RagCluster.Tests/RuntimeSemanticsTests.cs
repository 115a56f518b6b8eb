using RagCluster.Runtime;
using RagCluster.Tests.Infrastructure;
using RagCluster.TestGrains;

namespace RagCluster.Tests;

/// <summary>Grain semantics on one in-process silo with the in-memory store.</summary>
public sealed class RuntimeSemanticsTests : IAsyncLifetime
{
    private TestCluster _cluster = null!;
    private IGrainFactory _grains = null!;

    public async Task InitializeAsync()
    {
        _cluster = new TestCluster("memory", o => o.CallTimeout = TimeSpan.FromSeconds(3));
        var silo = await _cluster.StartInProcessSiloAsync();
        _grains = silo.Silo;
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Non_reentrant_grain_runs_one_request_at_a_time_even_across_awaits()
    {
        var grain = _grains.GetGrain<IConcurrencyProbeGrain>("turns");
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => grain.Work(20)));
        Assert.Equal(1, results.Max());
    }

    [Fact]
    public async Task Reentrant_grain_interleaves_at_awaits_but_never_runs_on_two_threads()
    {
        var grain = _grains.GetGrain<IReentrantProbeGrain>("reentrant");
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => grain.Work(100)));
        Assert.True(results.Max() > 1, $"requests should interleave, max inside was {results.Max()}");
        Assert.Equal(1, await grain.ThreadsSeenAtOnce());
    }

    [Fact]
    public async Task Call_cycle_between_non_reentrant_grains_ends_in_a_timeout_not_a_hang()
    {
        var a = _grains.GetGrain<IChainGrain>("cycle-a");
        var e = await Assert.ThrowsAsync<GrainCallTimeoutException>(() => a.CallThrough("cycle-b"));
        Assert.True(e.IsRetriable);
        Assert.Equal("hello from cycle-a", await a.Hello()); // the grain is usable again afterwards
    }

    [Fact]
    public async Task Grain_exceptions_reach_the_caller_with_their_type_and_message()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => _grains.GetGrain<IChainGrain>("thrower").Fail("boom"));
        Assert.Equal("boom", e.Message);
    }

    [Fact]
    public async Task Grain_timer_ticks_as_a_turn_of_the_activation()
    {
        var grain = _grains.GetGrain<ITimerGrain>("timer");
        await grain.Start(50);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await grain.Ticks() < 3 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.True(await grain.Ticks() >= 3, "timer did not tick three times");
    }

    [Fact]
    public async Task Stateless_worker_spreads_concurrent_calls_over_a_bounded_local_pool()
    {
        var worker = _grains.GetGrain<IWorkerGrain>("pool");
        var ids = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => worker.Identify(150)));
        var instances = ids.Select(i => i.Split('|')[1]).Distinct().Count();
        Assert.InRange(instances, 2, 4); // [StatelessWorker(4)]
    }

    [Fact]
    public async Task DeactivateOnIdle_runs_OnDeactivateAsync_and_the_next_call_sees_persisted_state()
    {
        var grain = _grains.GetGrain<ISelfCollectingGrain>("leaver");
        await grain.Bump();
        await grain.Bump();
        await grain.Leave();
        await Task.Delay(200);
        Assert.Equal(3, await grain.Bump());
    }

    [Fact]
    public async Task Idle_activations_are_collected_after_the_collection_age()
    {
        await using var cluster = new TestCluster("memory", o =>
        {
            o.CollectionAge = TimeSpan.FromMilliseconds(300);
            o.CollectionQuantum = TimeSpan.FromMilliseconds(100);
        });
        var silo = (await cluster.StartInProcessSiloAsync()).Silo;
        var grain = silo.GetGrain<ISelfCollectingGrain>("idle");
        await grain.Bump();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (silo.ActivationsByType().ContainsKey(typeof(ISelfCollectingGrain).FullName!) && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.False(silo.ActivationsByType().ContainsKey(typeof(ISelfCollectingGrain).FullName!), "idle activation was not collected");
        Assert.Equal(2, await grain.Bump()); // state written by OnDeactivateAsync(Idle) was read back
    }

    [Fact]
    public async Task Rich_records_round_trip_through_a_remote_client()
    {
        var client = _cluster.CreateClient(_cluster.Silos[0]);
        var value = new EchoRecord("ünï©ødé", [1, -2, int.MaxValue], new() { ["a"] = 0.5, ["b"] = double.NaN },
            [new EchoRecord("child", [], new(), null, DateTimeOffset.UnixEpoch, Guid.Empty, [])],
            new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.FromHours(2)), Guid.NewGuid(), [0.25f, -1f, float.Epsilon]);
        var back = await client.GetGrain<IEchoGrain>("echo").Round(value);
        Assert.Equal(value.Name, back.Name);
        Assert.Equal(value.Numbers, back.Numbers);
        Assert.Equal(value.Scores["a"], back.Scores["a"]);
        Assert.True(double.IsNaN(back.Scores["b"]));
        Assert.Equal("child", Assert.Single(back.Children!).Name);
        Assert.Equal(value.When, back.When);
        Assert.Equal(value.When.Offset, back.When.Offset);
        Assert.Equal(value.Id, back.Id);
        Assert.Equal(value.Vector, back.Vector);
    }

    public interface IUnsendableGrain : IGrainWithStringKey
    {
        Task Take(object anything);
    }

    [Fact]
    public void An_interface_with_an_unserializable_parameter_is_refused_when_first_used()
    {
        var e = Assert.Throws<NotSupportedException>(() => _grains.GetGrain<IUnsendableGrain>("x"));
        Assert.Contains("anything", e.Message);
        Assert.Contains("cannot cross the wire", e.Message);
    }
}
