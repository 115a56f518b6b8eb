namespace RagCluster.Runtime;

/// <summary>Lets an activation interleave requests at await points (still on one thread at a time).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class ReentrantAttribute : Attribute;

/// <summary>
/// The grain has no identity-bound state: each silo keeps a local pool of up to <see cref="MaxLocalWorkers"/>
/// activations per key and serves calls from it, without placement or the grain directory.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class StatelessWorkerAttribute(int maxLocalWorkers = 0) : Attribute
{
    /// <summary>0 means one per core.</summary>
    public int MaxLocalWorkers { get; } = maxLocalWorkers;
}

/// <summary>Marks a grain constructor parameter of type <see cref="IPersistentState{T}"/> to be loaded before activation.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class PersistentStateAttribute(string stateName, string? storageName = null) : Attribute
{
    public string StateName { get; } = stateName;
    public string? StorageName { get; } = storageName;
}
