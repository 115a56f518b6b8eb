using RagCluster.Runtime.Activation;

namespace RagCluster.Runtime;

/// <summary>
/// Base class of grain implementations. The runtime runs one request at a time per activation (unless the
/// class is [Reentrant]) and all of an activation's code on one logical thread, so grain fields need no locks.
/// </summary>
public abstract class Grain
{
    internal ActivationContext Context { get; set; } = null!;

    /// <summary>The string key this activation was created for.</summary>
    public string GetPrimaryKeyString() => Context.GrainId.Key;

    public GrainId GrainId => Context.GrainId;

    /// <summary>Reaches other grains (calls go through the runtime, wherever those grains live).</summary>
    protected IGrainFactory GrainFactory => Context.GrainFactory;

    /// <summary>The silo hosting this activation.</summary>
    protected string RuntimeIdentity => Context.SiloId;

    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Last chance to persist before the activation goes away (not called when the silo crashes).</summary>
    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Runs <paramref name="callback"/> as a turn of this activation after <paramref name="dueTime"/> and then every
    /// <paramref name="period"/> (no overlapping ticks). Timers stop with the activation; dispose to stop earlier.
    /// </summary>
    protected IDisposable RegisterGrainTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period) =>
        Context.RegisterTimer(callback, dueTime, period);

    /// <summary>Deactivates this activation once the current request finishes.</summary>
    protected void DeactivateOnIdle() => Context.RequestDeactivation();
}
