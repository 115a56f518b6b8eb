using Microsoft.Extensions.Logging;

namespace RagCluster.Grains.Documents;

/// <summary>A document's log lines, source-generated: every document of a bulk load passes here, so no boxing or parsing per call.</summary>
internal static partial class DocumentLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting {Collection}/{Document} stopped, will retry: {Error}")]
    public static partial void DeleteStopped(ILogger log, string collection, string document, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Indexing {Collection}/{Document} stopped, will retry: {Error}")]
    public static partial void IndexingStopped(ILogger log, string collection, string document, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Collection {Collection} did not hear that {Document} settled; its sweep will find out: {Error}")]
    public static partial void SettleNotHeard(ILogger log, string collection, string document, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Indexing {Collection}/{Document} v{Version} waits: {Reason}")]
    public static partial void Waiting(ILogger log, string collection, string document, long version, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Indexing {Collection}/{Document} v{Version} failed, will retry: {Error}")]
    public static partial void IndexingFailed(ILogger log, string collection, string document, long version, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Indexing {Count} text(s) of {Collection} in bulk stopped, will retry: {Error}")]
    public static partial void BulkTextStopped(this ILogger logger, int count, string collection, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Indexing {Count} text(s) of {Collection} in bulk failed, will retry: {Error}")]
    public static partial void BulkTextFailed(this ILogger logger, int count, string collection, string error);
}
