using Microsoft.Extensions.Logging;

namespace RagCluster.Grains.Collections;

/// <summary>A collection's log lines, source-generated: restores, reshards, the sweep.</summary>
internal static partial class CollectionLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Collection {Collection}: the restore into it stopped renewing its lease at {Lapsed:o}; giving it up")]
    public static partial void RestoreLeaseLapsed(this ILogger logger, string collection, DateTime lapsed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Collection {Collection}: restore given up; {Documents} registered document(s) removed, its shards retire")]
    public static partial void RestoreGivenUp(this ILogger logger, string collection, long documents);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Collection {Collection}: reshard step failed, retrying in 5 s: {Error}")]
    public static partial void ReshardStepFailed(this ILogger logger, string collection, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Collection {Collection}: copying {From} shards into {To} (generation {Generation}); {Copied} chunks copied before")]
    public static partial void ReshardCopying(this ILogger logger, string collection, int from, int to, int generation, long copied);

    [LoggerMessage(Level = LogLevel.Information, Message = "Collection {Collection}: now served by {To} shards (generation {Generation}); {Chunks} chunks copied in {Seconds:F1} s")]
    public static partial void ReshardDone(this ILogger logger, string collection, int to, int generation, long chunks, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Collection {Collection}: moved {Documents} document(s) into the row registry")]
    public static partial void MovedIntoRows(this ILogger logger, string collection, long documents);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Collection {Collection}: the old state record stays (never read again): {Error}")]
    public static partial void OldStateStays(this ILogger logger, string collection, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweep of collection {Collection} could not reach document {Document}; the next tick retries: {Error}")]
    public static partial void SweepCouldNotReachDocument(this ILogger logger, string collection, string document, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sweep of collection {Collection}: {Unsettled} document(s) not settled yet")]
    public static partial void SweepUnsettled(this ILogger logger, string collection, int unsettled);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweep of collection {Collection} could not ask shard {Shard} about bulk writes; the next tick retries: {Error}")]
    public static partial void SweepCouldNotAskShard(this ILogger logger, string collection, int shard, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sweep of collection {Collection}: indexing {Count} text(s) accepted in bulk that no live silo holds")]
    public static partial void SweepTakesOverTexts(this ILogger logger, string collection, int count);
}
