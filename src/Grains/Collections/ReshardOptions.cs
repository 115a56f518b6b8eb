namespace RagCluster.Grains.Collections;

/// <summary>How a reshard copies, bound from the "Reshard" configuration section.</summary>
public sealed class ReshardOptions : RagCluster.Configuration.IValidatedOptions
{
    /// <summary>Chunks read from an old shard per step; each step's chunks reach each new shard as one merge.</summary>
    public int PageChunks { get; set; } = 2048;
    /// <summary>Old shards copied at a time.</summary>
    public int ParallelShards { get; set; } = 2;
    /// <summary>How often the copy stores how far each old shard has come (a crash resumes from there, not from the start).</summary>
    public TimeSpan ProgressEvery { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>How long old shards go on answering after the switch, for searches that read the old layout just before it.</summary>
    public TimeSpan RetireAfter { get; set; } = TimeSpan.FromSeconds(5);

    public void Validate()
    {
        if (PageChunks is < 1 or > 10_000) throw new ArgumentException("Reshard:PageChunks must be 1..10000");
        if (ParallelShards is < 1 or > 256) throw new ArgumentException("Reshard:ParallelShards must be 1..256");
        if (ProgressEvery < TimeSpan.Zero || RetireAfter < TimeSpan.Zero) throw new ArgumentException("Reshard:ProgressEvery and Reshard:RetireAfter must not be negative");
    }
}
