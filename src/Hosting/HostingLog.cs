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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a TLS peer whose certificate the cluster does not trust: {Subject}, issued by {Issuer} (thumbprint {Thumbprint}): {Reasons}")]
    public static partial void PeerRefused(this ILogger logger, string subject, string issuer, string thumbprint, string reasons);

    [LoggerMessage(Level = LogLevel.Information, Message = "TLS certificate reloaded: {Subject} (thumbprint {Thumbprint}), valid until {NotAfter:u}")]
    public static partial void CertificateReloaded(this ILogger logger, string subject, string thumbprint, DateTime notAfter);

    [LoggerMessage(Level = LogLevel.Warning, Message = "TLS certificate files changed but do not load; the previous certificate stays in use: {Error}")]
    public static partial void CertificateNotReloaded(this ILogger logger, string error);
}
