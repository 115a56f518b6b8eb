using Microsoft.Extensions.Logging;

namespace RagCluster.SiloHost;

/// <summary>The plain silo's log lines, source-generated.</summary>
internal static partial class SiloLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Health probes on http://{Address}:{Port}/health/live and /health/ready")]
    public static partial void HealthProbesListening(this ILogger logger, string address, int port);
}
