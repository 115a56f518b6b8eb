namespace RagCluster.Grains.Caching;

/// <summary>Bound from "Cache".</summary>
public sealed class CacheOptions : RagCluster.Configuration.IValidatedOptions
{
    /// <summary>Query results each silo keeps in its L1 cache.</summary>
    public int L1Capacity { get; set; } = 4096;
    /// <summary>The most bytes (<see cref="CachedBytes"/>) of results each silo's L1 cache holds; the oldest go first past it.</summary>
    public long L1Bytes { get; set; } = 64L << 20;
    /// <summary>
    /// The most bytes of results one of the 16 shared cache partitions holds, in memory and stored alike; the oldest go
    /// first past it. A partition loads its stored entries whole when it activates (after a restart, or on another silo).
    /// </summary>
    public long PartitionBytes { get; set; } = 8L << 20;

    public void Validate()
    {
        if (L1Capacity is < 1 or > 10_000_000) throw new ArgumentException("Cache:L1Capacity must be 1..10000000");
        if (L1Bytes is < 1 << 16 or > 1L << 40) throw new ArgumentException("Cache:L1Bytes must be 65536..1099511627776");
        if (PartitionBytes is < 1 << 16 or > 1L << 36) throw new ArgumentException("Cache:PartitionBytes must be 65536..68719476736");
    }
}
