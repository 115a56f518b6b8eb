using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Configuration;

namespace RagCluster.Hosting.Tls;

/// <summary>
/// Mutual TLS on Orleans' connections with its own middleware (Microsoft.Orleans.Connections.Security), wired as its
/// UseTls wires it, but with <see cref="PeerTrust"/> built from the container so that refusals and reloads are logged.
/// </summary>
public static class TlsHostingExtensions
{
    /// <summary>TLS on this silo's silo-to-silo connections (both ways) and its gateway; nothing when <paramref name="settings"/> is off.</summary>
    public static ISiloBuilder UseRagClusterTls(this ISiloBuilder silo, TlsSettings settings)
    {
        if (!settings.Enabled) return silo;
        _ = new CertificateFiles(settings, NullLogger.Instance); // files that do not load stop the host as it is built, in one line
        silo.Services.AddSingleton(sp => new PeerTrust(settings, sp.GetRequiredService<ILoggerFactory>().CreateLogger<PeerTrust>()));
        silo.Services.AddOptions<SiloConnectionOptions>().Configure<PeerTrust>((o, trust) =>
        {
            o.ConfigureSiloInboundConnection(b => b.UseServerTls(trust.Options));
            o.ConfigureGatewayInboundConnection(b => b.UseServerTls(trust.Options));
            o.ConfigureSiloOutboundConnection(b => b.UseClientTls(trust.Options));
        });
        return silo;
    }

    /// <summary>TLS on an Orleans client's gateway connections, for a cluster whose silos run <see cref="UseRagClusterTls(ISiloBuilder, TlsSettings)"/>.</summary>
    public static IClientBuilder UseRagClusterTls(this IClientBuilder client, TlsSettings settings)
    {
        settings.Validate("Tls");
        if (!settings.Enabled) return client;
        _ = new CertificateFiles(settings, NullLogger.Instance);
        client.Services.AddSingleton(sp => new PeerTrust(settings, sp.GetRequiredService<ILoggerFactory>().CreateLogger<PeerTrust>()));
        client.Services.AddOptions<ClientConnectionOptions>().Configure<PeerTrust>((o, trust) => o.ConfigureConnection(b => b.UseClientTls(trust.Options)));
        return client;
    }
}
