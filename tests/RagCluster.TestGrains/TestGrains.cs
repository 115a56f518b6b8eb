using System.Collections.Concurrent;
using RagCluster.Runtime;

namespace RagCluster.TestGrains;

/// <summary>Counts live activations per grain across every in-process silo, and the most ever alive at once.</summary>
public static class ActivationTracker
{
    private static readonly ConcurrentDictionary<string, (int Live, int Max)> Counts = new();

    public static void Activated(GrainId id) =>
        Counts.AddOrUpdate(id.ToString(), (1, 1), (_, c) => (c.Live + 1, Math.Max(c.Max, c.Live + 1)));

    public static void Deactivated(GrainId id) => Counts.AddOrUpdate(id.ToString(), (0, 0), (_, c) => (c.Live - 1, c.Max));

    public static int MaxConcurrent(string grainKeySuffix) =>
        Counts.Where(kv => kv.Key.EndsWith("/" + grainKeySuffix, StringComparison.Ordinal)).Select(kv => kv.Value.Max).DefaultIfEmpty(0).Max();

    public static int TotalActivations(string grainKeySuffix) =>
        Counts.Where(kv => kv.Key.EndsWith("/" + grainKeySuffix, StringComparison.Ordinal)).Select(kv => kv.Value.Live).DefaultIfEmpty(0).Sum();
}

public sealed class CounterState
{
    public int Value { get; set; }
}

public interface ICounterGrain : IGrainWithStringKey
{
    Task<int> Add(int delta);
    Task<int> Get();
    Task<string> WhereAmI();
}

/// <summary>Persists on every Add, so a crash loses nothing that was acknowledged.</summary>
public sealed class CounterGrain([PersistentState("counter")] IPersistentState<CounterState> state) : Grain, ICounterGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        ActivationTracker.Activated(GrainId);
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        ActivationTracker.Deactivated(GrainId);
        return Task.CompletedTask;
    }

    public async Task<int> Add(int delta)
    {
        state.State.Value += delta;
        await state.WriteStateAsync();
        return state.State.Value;
    }

    public Task<int> Get() => Task.FromResult(state.State.Value);
    public Task<string> WhereAmI() => Task.FromResult(RuntimeIdentity);
}

public interface IConcurrencyProbeGrain : IGrainWithStringKey
{
    /// <summary>Holds the turn across awaits for <paramref name="ms"/>; returns the most requests seen inside at once.</summary>
    Task<int> Work(int ms);
}

public sealed class TurnBasedGrain : Grain, IConcurrencyProbeGrain
{
    private int _inside;
    private int _max;

    public async Task<int> Work(int ms)
    {
        _max = Math.Max(_max, ++_inside);
        await Task.Delay(ms);
        _inside--;
        return _max;
    }
}

public interface IReentrantProbeGrain : IGrainWithStringKey
{
    Task<int> Work(int ms);
    Task<int> ThreadsSeenAtOnce();
}

[Reentrant]
public sealed class ReentrantGrain : Grain, IReentrantProbeGrain
{
    private int _inside;
    private int _max;
    private int _running; // touched without Interlocked on purpose: the activation scheduler makes that safe
    private int _maxRunning;

    public async Task<int> Work(int ms)
    {
        _max = Math.Max(_max, ++_inside);
        _running++;
        _maxRunning = Math.Max(_maxRunning, _running);
        Thread.SpinWait(20_000);
        _running--;
        await Task.Delay(ms);
        _inside--;
        return _max;
    }

    public Task<int> ThreadsSeenAtOnce() => Task.FromResult(_maxRunning);
}

public interface IChainGrain : IGrainWithStringKey
{
    /// <summary>Calls <paramref name="other"/>'s Bounce, which calls back into this grain: a deadlock for non-reentrant grains.</summary>
    Task<string> CallThrough(string other);
    Task<string> Bounce(string back);
    Task<string> Hello();
    Task Fail(string message);
}

public sealed class ChainGrain : Grain, IChainGrain
{
    public Task<string> CallThrough(string other) => GrainFactory.GetGrain<IChainGrain>(other).Bounce(GetPrimaryKeyString());
    public Task<string> Bounce(string back) => GrainFactory.GetGrain<IChainGrain>(back).Hello();
    public Task<string> Hello() => Task.FromResult("hello from " + GetPrimaryKeyString());
    public Task Fail(string message) => throw new InvalidOperationException(message);
}

public interface ITimerGrain : IGrainWithStringKey
{
    Task Start(int periodMs);
    Task<int> Ticks();
}

public sealed class TimerGrain : Grain, ITimerGrain
{
    private int _ticks;
    private IDisposable? _timer;

    public Task Start(int periodMs)
    {
        _timer ??= RegisterGrainTimer(_ => { _ticks++; return Task.CompletedTask; }, TimeSpan.Zero, TimeSpan.FromMilliseconds(periodMs));
        return Task.CompletedTask;
    }

    public Task<int> Ticks() => Task.FromResult(_ticks);
}

public interface IWorkerGrain : IGrainWithStringKey
{
    Task<string> Identify(int holdMs);
}

[StatelessWorker(4)]
public sealed class WorkerGrain : Grain, IWorkerGrain
{
    private readonly Guid _instance = Guid.NewGuid();

    public async Task<string> Identify(int holdMs)
    {
        await Task.Delay(holdMs);
        return $"{RuntimeIdentity}|{_instance}";
    }
}

public interface IEchoGrain : IGrainWithStringKey
{
    Task<byte[]> Echo(byte[] payload);
    Task<EchoRecord> Round(EchoRecord value);
}

public sealed record EchoRecord(string Name, int[] Numbers, Dictionary<string, double> Scores, List<EchoRecord>? Children, DateTimeOffset When, Guid Id, float[] Vector);

public sealed class EchoGrain : Grain, IEchoGrain
{
    public Task<byte[]> Echo(byte[] payload) => Task.FromResult(payload);
    public Task<EchoRecord> Round(EchoRecord value) => Task.FromResult(value);
}

public interface ISelfCollectingGrain : IGrainWithStringKey
{
    Task<int> Bump();
    Task Leave();
}

/// <summary>Keeps its count in memory and persists only on deactivation, to prove OnDeactivateAsync runs on leave and idle.</summary>
public sealed class SelfCollectingGrain([PersistentState("bumps")] IPersistentState<CounterState> state) : Grain, ISelfCollectingGrain
{
    public Task<int> Bump() => Task.FromResult(++state.State.Value);

    public Task Leave()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => state.WriteStateAsync(cancellationToken);
}
