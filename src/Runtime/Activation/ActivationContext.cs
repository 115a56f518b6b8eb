using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace RagCluster.Runtime.Activation;

internal enum ActivationState { Activating, Valid, Deactivating, Invalid }

internal enum OutcomeKind { Ok, Failed, NotRun, TimedOut }

/// <summary>What happened to one request at an activation. NotRun means the grain never saw it: safe to re-route.</summary>
internal readonly record struct InvokeOutcome(OutcomeKind Kind, object? Result = null, Exception? Error = null);

/// <summary>
/// One activation of a grain. Every turn (request, timer tick, activation hook) runs on the activation's own
/// exclusive scheduler, so grain code is single-threaded; non-reentrant grains also hold a gate for the whole
/// request, so requests never interleave.
/// </summary>
internal sealed class ActivationContext
{
    private readonly TaskScheduler _scheduler = new ConcurrentExclusiveSchedulerPair().ExclusiveScheduler;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<GrainTimer> _timers = [];
    private readonly Lock _lock = new();
    private readonly Func<ActivationContext, DeactivationReason, Task> _deactivate;
    private readonly ILogger _log;
    private int _load;
    private int _inFlight;
    private long _lastActiveTimestamp = Stopwatch.GetTimestamp();
    private volatile bool _deactivationRequested;
    private Task? _deactivation;

    public ActivationContext(GrainId grainId, GrainClass grainClass, IGrainFactory grainFactory, string siloId,
        Func<ActivationContext, DeactivationReason, Task> deactivate, ILogger log)
    {
        GrainId = grainId;
        Class = grainClass;
        GrainFactory = grainFactory;
        SiloId = siloId;
        _deactivate = deactivate;
        _log = log;
    }

    public GrainId GrainId { get; }
    public GrainClass Class { get; }
    public IGrainFactory GrainFactory { get; }
    public string SiloId { get; }
    public Grain? Instance { get; set; }
    public volatile ActivationState State = ActivationState.Activating;

    /// <summary>Completes when the activation is usable, or redirected (<see cref="RedirectTo"/>), or failed.</summary>
    public TaskCompletionSource Activated { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the activation is gone and unregistered; re-routed requests wait for it.</summary>
    public TaskCompletionSource Deactivated { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when the directory says another live silo holds this grain.</summary>
    public string? RedirectTo { get; set; }

    /// <summary>Requests waiting for or running in this activation (stateless-worker pools balance on it).</summary>
    public int Load => Volatile.Read(ref _load);

    public TimeSpan IdleFor => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastActiveTimestamp));

    public bool IsBusy => Volatile.Read(ref _inFlight) > 0;

    /// <summary>Requests routed here that are not running yet.</summary>
    public int Queued => Math.Max(0, Volatile.Read(ref _load) - Volatile.Read(ref _inFlight));

    public Task<T> RunTurnAsync<T>(Func<Task<T>> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, _scheduler).Unwrap();

    public Task RunTurnAsync(Func<Task> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, _scheduler).Unwrap();

    public async Task<InvokeOutcome> InvokeAsync(Func<Grain, Task<object?>> call, TimeSpan waitLimit)
    {
        Interlocked.Increment(ref _load);
        var gated = !Class.IsReentrant;
        try
        {
            if (gated && !await _gate.WaitAsync(waitLimit)) return new InvokeOutcome(OutcomeKind.TimedOut);
            try
            {
                if (State != ActivationState.Valid) return new InvokeOutcome(OutcomeKind.NotRun);
                Interlocked.Increment(ref _inFlight);
                Volatile.Write(ref _lastActiveTimestamp, Stopwatch.GetTimestamp());
                try
                {
                    var instance = Instance!;
                    return new InvokeOutcome(OutcomeKind.Ok, await RunTurnAsync(() => call(instance)));
                }
                catch (Exception e)
                {
                    return new InvokeOutcome(OutcomeKind.Failed, Error: e);
                }
                finally
                {
                    Interlocked.Decrement(ref _inFlight);
                }
            }
            finally
            {
                if (gated) _gate.Release();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _load);
            if (_deactivationRequested && Volatile.Read(ref _inFlight) == 0) _ = _deactivate(this, DeactivationReason.Requested);
        }
    }

    public void RequestDeactivation() => _deactivationRequested = true;

    /// <summary>Counts a request routed here before it reaches <see cref="InvokeAsync"/>, so a worker pool sees it as busy at once.</summary>
    public void AddLoad(int delta) => Interlocked.Add(ref _load, delta);

    public IDisposable RegisterTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new GrainTimer(this, callback, dueTime, period, _log);
        lock (_lock)
        {
            if (State is ActivationState.Deactivating or ActivationState.Invalid)
                throw new InvalidOperationException($"{GrainId} is deactivating; it cannot start timers");
            _timers.Add(timer);
        }
        timer.Start();
        return timer;
    }

    /// <summary>A timer tick is a turn like any request: it waits for the gate and skips if the activation is gone.</summary>
    public async Task RunTimerTickAsync(Func<CancellationToken, Task> callback, CancellationToken ct)
    {
        var gated = !Class.IsReentrant;
        if (gated) await _gate.WaitAsync(ct);
        try
        {
            if (State != ActivationState.Valid) return;
            Interlocked.Increment(ref _inFlight);
            try { await RunTurnAsync(() => callback(ct)); }
            finally { Interlocked.Decrement(ref _inFlight); }
        }
        finally
        {
            if (gated) _gate.Release();
        }
    }

    /// <summary>
    /// Lets running work finish, runs OnDeactivateAsync, then <paramref name="unregister"/> (directory, catalog).
    /// Idempotent: later callers get the same task.
    /// </summary>
    public Task DeactivateAsync(DeactivationReason reason, TimeSpan timeout, Func<Task> unregister)
    {
        lock (_lock)
        {
            if (_deactivation is not null) return _deactivation;
            _deactivation = RunDeactivationAsync(reason, timeout, unregister);
            return _deactivation;
        }
    }

    private async Task RunDeactivationAsync(DeactivationReason reason, TimeSpan timeout, Func<Task> unregister)
    {
        // An activation still starting finishes starting first, so OnDeactivateAsync never races OnActivateAsync.
        try { await Activated.Task.WaitAsync(timeout); } catch { /* failed or redirected activations just go */ }
        var wasValid = State == ActivationState.Valid;
        State = ActivationState.Deactivating;
        GrainTimer[] timers;
        lock (_lock) timers = _timers.ToArray();
        foreach (var t in timers) t.Dispose();

        var gated = !Class.IsReentrant;
        var gotGate = gated && await _gate.WaitAsync(timeout);
        try
        {
            if (!gated)
            {
                var waited = Stopwatch.StartNew();
                while (Volatile.Read(ref _inFlight) > 0 && waited.Elapsed < timeout) await Task.Delay(5);
            }
            if (wasValid && Instance is { } grain)
            {
                using var cts = new CancellationTokenSource(timeout);
                try
                {
                    await RunTurnAsync(() => grain.OnDeactivateAsync(reason, cts.Token)).WaitAsync(timeout);
                }
                catch (Exception e)
                {
                    _log.LogWarning(e, "OnDeactivateAsync of {Grain} failed ({Reason})", GrainId, reason);
                }
            }
            try
            {
                await unregister();
            }
            catch (Exception e)
            {
                _log.LogError(e, "Could not unregister {Grain} from the grain directory", GrainId);
            }
            State = ActivationState.Invalid;
        }
        finally
        {
            // Requests queued behind the gate now see Invalid and are re-routed.
            if (gotGate) _gate.Release();
            Deactivated.TrySetResult();
        }
    }

    /// <summary>Crash simulation: the activation vanishes without running any hook or touching the store.</summary>
    public void Abandon()
    {
        State = ActivationState.Invalid;
        GrainTimer[] timers;
        lock (_lock) timers = _timers.ToArray();
        foreach (var t in timers) t.Dispose();
        Activated.TrySetResult();
        Deactivated.TrySetResult();
    }
}

/// <summary>A grain timer: ticks are turns of the activation and never overlap.</summary>
internal sealed class GrainTimer(ActivationContext owner, Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period, ILogger log) : IDisposable
{
    private readonly CancellationTokenSource _cts = new();

    public void Start() => _ = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        var ct = _cts.Token;
        try
        {
            await Task.Delay(dueTime, ct);
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await owner.RunTimerTickAsync(callback, ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.LogWarning(e, "Timer of {Grain} failed", owner.GrainId);
                }
                if (period == Timeout.InfiniteTimeSpan) return;
                await Task.Delay(period, ct);
            }
        }
        catch (OperationCanceledException)
        {
            // disposed, or the activation went away
        }
    }

    public void Dispose() => _cts.Cancel();
}
