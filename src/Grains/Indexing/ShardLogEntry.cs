using RagCluster.Grains.Interfaces.Indexing;

namespace RagCluster.Grains.Indexing;

/// <summary>A change to a shard, as appended to its log.</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardLogEntry")]
public sealed record ShardLogEntry(string DocumentId, long Version, ChunkRecord[] Chunks, bool Removed)
{
    /// <summary>Adds to the same version's chunks instead of replacing them (see <see cref="IIndexShardGrain.Merge"/>).</summary>
    [Id(4)] public bool Merge { get; init; }
    /// <summary>A change of tags alone: every chunk of the document held takes these tags and this version; text and vectors stay (no chunks in the entry).</summary>
    [Id(5)] public Dictionary<string, string>? Retag { get; init; }
}
