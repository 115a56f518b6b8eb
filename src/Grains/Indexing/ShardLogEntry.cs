using Microsoft.Extensions.Options;
using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Lexical;
using RagCluster.Grains.Placement;
using RagCluster.Grains.Vectors;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Errors;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using RagCluster.Storage.GrainLogs;

namespace RagCluster.Grains.Indexing;

/// <summary>A change to a shard, as appended to its log.</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardLogEntry")]
public sealed record ShardLogEntry(string DocumentId, long Version, ChunkRecord[] Chunks, bool Removed)
{
    /// <summary>Adds to the same version's chunks instead of replacing them (see <see cref="IIndexShardGrain.Merge"/>).</summary>
    [Id(4)] public bool Merge { get; init; }
}
