using Microsoft.Extensions.Logging;

namespace RagCluster.Grains.Querying;

/// <summary>The query path's log lines, source-generated (they fire per query while a dependency is down).</summary>
internal static partial class QueryPlanLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Query on {Collection} ran on BM25 alone: the query could not be embedded ({Error})")]
    public static partial void EmbeddingUnavailable(ILogger log, string collection, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Query on {Collection} used the collection's settings as last read: its grain could not be reached ({Error})")]
    public static partial void CollectionUnreachable(ILogger log, string collection, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Slow search on {Collection}: {Ms:F0} ms ({Steps})")]
    public static partial void SlowSearch(ILogger log, string collection, double ms, string steps);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shared query cache {Operation} skipped: {Error}")]
    public static partial void SharedCacheSkipped(ILogger log, string operation, string error);
}
