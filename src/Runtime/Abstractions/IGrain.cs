namespace RagCluster.Runtime;

/// <summary>Marker for every grain interface. Methods must return Task, Task&lt;T&gt;, ValueTask or ValueTask&lt;T&gt;.</summary>
public interface IGrain;

/// <summary>A grain addressed by a string key, as <c>GetGrain&lt;T&gt;("key")</c>.</summary>
public interface IGrainWithStringKey : IGrain;

/// <summary>Creates references to grains; the only way grain code reaches other grains.</summary>
public interface IGrainFactory
{
    TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey;
}

/// <summary>Identity of one grain: its interface's type name and its key.</summary>
public readonly record struct GrainId(string Type, string Key)
{
    public override string ToString() => $"{Type}/{Key}";
}

/// <summary>Why an activation is going away; passed to <see cref="Grain.OnDeactivateAsync"/>.</summary>
public enum DeactivationReason
{
    /// <summary>Idle longer than the collection age.</summary>
    Idle,
    /// <summary>The grain asked for it with DeactivateOnIdle.</summary>
    Requested,
    /// <summary>A membership change made another silo the owner.</summary>
    Rebalancing,
    /// <summary>The silo is leaving the cluster gracefully.</summary>
    SiloShutdown,
    /// <summary>OnActivateAsync failed.</summary>
    ActivationFailed,
}
