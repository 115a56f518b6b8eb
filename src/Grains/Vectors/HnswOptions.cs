namespace RagCluster.Grains.Vectors;

public sealed class HnswOptions : RagCluster.Configuration.IValidatedOptions
{
    /// <summary>Links per node on upper layers (layer 0 gets 2M).</summary>
    public int M { get; set; } = 16;
    public int EfConstruction { get; set; } = 200;
    /// <summary>Default search breadth; raised to k when k is larger.</summary>
    public int EfSearch { get; set; } = 64;
    public int Seed { get; set; } = 42;
    /// <summary>A shard compacts its graph once deleted nodes are a quarter of it and at least this many.</summary>
    public int CompactMinDeleted { get; set; } = 1000;
    /// <summary>
    /// Where int8 graphs keep their full-precision vectors (one unlinked file each); null: the system's temp folder.
    /// Put it on a disk: on a tmpfs the "outside memory" vectors are in memory after all.
    /// </summary>
    public string? FullPrecisionDirectory { get; set; }
    /// <summary>
    /// A filtered search whose filter leaves at most this many chunks in a shard compares with each of them exactly
    /// instead of walking (Qdrant's full_scan_threshold, Weaviate's flatSearchCutoff); more for a search asking a wider
    /// ef (this × ef / EfSearch). 3,000: where the scan of 384-dimension vectors costs what a filtered walk does on this
    /// project's machine (docs/filters.md). It also caps the unfiltered scan of a shard smaller than a walk would measure
    /// (<see cref="HnswIndex.ScanIsCheaperThanWalk"/>). 0: always walk.
    /// </summary>
    public int ExactSearchThreshold { get; set; } = 3_000;
    /// <summary>
    /// The most live vectors a shard may hold and still search a filter by the links per value or the two-hop walk. A
    /// larger shard compares up to 10,000 kept chunks (or ExactSearchThreshold, if more) one by one and otherwise walks
    /// its main graph measuring every node it meets, as before issue 82: those walks kept recall@10 ≥ 0.993 through the API
    /// at 25,000 vectors a shard and lost it beyond (0.36–0.96 at 100,000, 0.21–0.82 at 250,000; docs/filters.md); 30,000
    /// leaves a collection of 100,000 in 4 shards, as measured, on them. Past it recall comes back at a cost (400,000 in 4
    /// shards: 0.87–1.00 at 1.6–3.7× the untrimmed search, against 0.36–0.96 at 0.97–1.48×). The loss is the data's:
    /// on a shard's own draw hnswlib's graph of a value's members alone finds no more than the value links do.
    /// </summary>
    public int LinkedWalkMaxVectors { get; set; } = 30_000;

    public void Validate()
    {
        if (ExactSearchThreshold is < 0 or > 10_000_000) throw new ArgumentException("Hnsw:ExactSearchThreshold must be 0..10000000");
        if (LinkedWalkMaxVectors < 0) throw new ArgumentException("Hnsw:LinkedWalkMaxVectors must be 0 or more");
        if (M is < 2 or > 128) throw new ArgumentException("Hnsw:M must be 2..128");
        if (EfConstruction is < 1 or > 4096) throw new ArgumentException("Hnsw:EfConstruction must be 1..4096");
        if (EfSearch is < 1 or > 4096) throw new ArgumentException("Hnsw:EfSearch must be 1..4096");
    }
}
