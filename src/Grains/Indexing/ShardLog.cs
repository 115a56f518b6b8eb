using Microsoft.Extensions.Logging;

namespace RagCluster.Grains.Indexing;

/// <summary>A shard's log lines, source-generated: loads, snapshots, compaction, copies.</summary>
internal static partial class ShardLog
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "Shard {Shard}: could not read its collection's replication factor: {Error}")]
    public static partial void ReplicationFactorUnread(this ILogger logger, string shard, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard copy {Shard} fell behind its primary's snapshot; reloading")]
    public static partial void CopyBehindSnapshot(this ILogger logger, string shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard copy {Shard} could not read its primary's log; the next beat retries: {Error}")]
    public static partial void CopyCouldNotReadLog(this ILogger logger, string shard, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard copy {Shard} could not apply its primary's entries; reloading")]
    public static partial void CopyCouldNotApply(this ILogger logger, Exception exception, string shard);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {Shard}: compacting {Deleted} deleted of {Count} graph nodes")]
    public static partial void Compacting(this ILogger logger, string shard, int deleted, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: compaction failed; the graph keeps its deleted nodes")]
    public static partial void CompactionFailed(this ILogger logger, Exception exception, string shard);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {Shard}: compacted the graph to {Count} nodes")]
    public static partial void Compacted(this ILogger logger, string shard, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {Shard}: loaded {Vectors} vectors ({SnapshotMiB} MiB snapshot, {Entries} log entries) in {Seconds:F2} s: {Split}")]
    public static partial void ShardLoaded(this ILogger logger, string shard, int vectors, long snapshotMiB, int entries, double seconds, string? split);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {Shard}: the {Vectors} vectors of its log tail linked into the graph {Seconds:F2} s after it began to serve (compared exactly until then)")]
    public static partial void ShardTailLinked(this ILogger logger, string shard, int vectors, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waking the shards at start-up failed; each loads at its first call instead: {Error}")]
    public static partial void ShardWakeupFailed(this ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {Shard}: retired (a reshard replaced it, or its collection was deleted)")]
    public static partial void ShardRetired(this ILogger logger, string shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: linking {Pending} vector(s) failed, will retry: {Error}")]
    public static partial void LinkingFailed(this ILogger logger, string shard, int pending, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: {Skipped} vector(s) of another dimension than {Dimensions} skipped")]
    public static partial void OtherDimensionSkipped(this ILogger logger, string shard, int skipped, int dimensions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {Shard}: a snapshot succeeded after {Failures} failures")]
    public static partial void SnapshotRecovered(this ILogger logger, string shard, int failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: snapshot failed ({Failures} in a row; {TailMiB} MiB of log since the last); retrying in {Backoff}")]
    public static partial void SnapshotFailed(this ILogger logger, Exception exception, string shard, int failures, long tailMiB, TimeSpan backoff);
}
