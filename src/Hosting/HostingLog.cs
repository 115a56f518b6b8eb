using Microsoft.Extensions.Logging;

namespace RagCluster.Hosting;

/// <summary>The silo host's log lines, source-generated.</summary>
internal static partial class HostingLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} failed with {Type}; callers see GrainFailedException")]
    public static partial void ForeignExceptionWrapped(this ILogger logger, Exception exception, string method, string? type);

    [LoggerMessage(Level = LogLevel.Information, Message = "Schema ready in {Store}")]
    public static partial void SchemaReady(this ILogger logger, string store);

    [LoggerMessage(Level = LogLevel.Information, Message = "RagCluster silo {Silo} active in cluster {Cluster}: state in {Store}, membership {Membership}")]
    public static partial void SiloActive(this ILogger logger, SiloAddress silo, string cluster, string store, string membership);
}
