namespace RagCluster.Grains.Indexing;

/// <summary>How long a shard remembers a removed document's version (<c>Shards:TombstoneRetention</c>); see <see cref="Tombstones"/>.</summary>
public sealed class ShardOptions : RagCluster.Grains.Configuration.IValidatedOptions
{
    /// <summary>At least this long, at most twice. Must outlast any write still in flight at a removal: grain calls expire after Silo:CallTimeout (30 s by default).</summary>
    public TimeSpan TombstoneRetention { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>A shard copy that has heard nothing from its primary this long (a write or a beat) reads the primary's log itself.</summary>
    public TimeSpan FollowerPoll { get; set; } = TimeSpan.FromSeconds(10);

    public void Validate()
    {
        if (TombstoneRetention < TimeSpan.FromSeconds(1)) throw new ArgumentException("Shards:TombstoneRetention must be at least 1 second");
        if (FollowerPoll < TimeSpan.FromSeconds(1)) throw new ArgumentException("Shards:FollowerPoll must be at least 1 second");
    }
}
