namespace RagCluster.Grains.Indexing;

/// <summary>Shard settings (<c>Shards:*</c>): how long a removed document's version is remembered (<see cref="Tombstones"/>), copies' polling, waking at start.</summary>
public sealed class ShardOptions : RagCluster.Configuration.IValidatedOptions
{
    /// <summary>At least this long, at most twice. Must outlast any write still in flight at a removal: grain calls expire after Silo:CallTimeout (30 s by default).</summary>
    public TimeSpan TombstoneRetention { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>A shard copy that has heard nothing from its primary this long (a write or a beat) reads the primary's log itself.</summary>
    public TimeSpan FollowerPoll { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Each silo, once active, wakes every shard in the store, so a restart loads them before the first search needs them (see <see cref="ShardWakeup"/>).</summary>
    public bool WakeOnStart { get; set; } = true;

    /// <summary>
    /// How new log entries are written: <c>binary</c>, ours (<see cref="ShardLogCodec"/>), or <c>orleans</c>, as builds
    /// before it wrote them and still read them. Both are read. During a rolling upgrade from such a build set
    /// <c>orleans</c>, since a primary pushes its entries to copies that may still run the older build; then remove it.
    /// </summary>
    public string LogFormat { get; set; } = "binary";

    public bool OwnLogFormat => LogFormat == "binary";

    /// <summary>
    /// A shard snapshots once the log written since its last snapshot holds this share of that snapshot's bytes (and 64
    /// entries): the most a crash leaves to replay. Lower means shorter restarts after a crash and more snapshot writing
    /// under a steady ingest (1 / share snapshot bytes a log byte), as Elasticsearch's translog flush threshold trades.
    /// </summary>
    public double SnapshotAtTailShare { get; set; } = 0.25;

    public void Validate()
    {
        if (LogFormat is not ("binary" or "orleans")) throw new ArgumentException($"Shards:LogFormat '{LogFormat}' is not binary or orleans");
        if (TombstoneRetention < TimeSpan.FromSeconds(1)) throw new ArgumentException("Shards:TombstoneRetention must be at least 1 second");
        if (SnapshotAtTailShare is not (>= 0.05 and <= 4)) throw new ArgumentException($"Shards:SnapshotAtTailShare {SnapshotAtTailShare} must be between 0.05 and 4");
        if (FollowerPoll < TimeSpan.FromSeconds(1)) throw new ArgumentException("Shards:FollowerPoll must be at least 1 second");
    }
}
