namespace RagCluster.Api;

/// <summary>The API silo's log lines, source-generated.</summary>
internal static partial class ApiLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "batch ingest of {Collection}/{Document} failed unexpectedly")]
    public static partial void BatchDocumentFailed(this ILogger logger, string collection, string document);

    [LoggerMessage(Level = LogLevel.Error, Message = "audit entry not recorded: {Action} {Target} by {KeyId} -> {Status}")]
    public static partial void AuditNotRecorded(this ILogger logger, Exception exception, string action, string target, string? keyId, int status);

    [LoggerMessage(Level = LogLevel.Error, Message = "unhandled error in {Method} {Path}")]
    public static partial void UnhandledError(this ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Debug, Message = "silo {Silo} did not answer: {Error}")]
    public static partial void SiloDidNotAnswer(this ILogger logger, SiloAddress silo, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "dashboard sample failed: {Error}")]
    public static partial void DashboardSampleFailed(this ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "MCP tool {Tool} failed unexpectedly")]
    public static partial void McpToolFailed(this ILogger logger, Exception exception, string tool);
}
