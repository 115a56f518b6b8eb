using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Orleans.Connections.Security;

namespace RagCluster.Hosting.Tls;

/// <summary>
/// The TLS settings every connection of this process uses, both ways: present the certificate from
/// <see cref="CertificateFiles"/> (with its intermediates), demand one from the peer, and accept it only if it chains to
/// the configured authorities. Host names are not checked: silos reach each other by the address in the membership table.
/// </summary>
public sealed class PeerTrust
{
    private static readonly TimeSpan RefusalLogPeriod = TimeSpan.FromSeconds(30);
    private readonly CertificateFiles _files;
    private readonly ILogger _log;
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<string, long> _lastRefusalLogged = new();

    /// <exception cref="ArgumentException">A certificate file does not load; the message names its key.</exception>
    public PeerTrust(TlsSettings settings, ILogger log, TimeProvider? clock = null)
    {
        _log = log;
        _clock = clock ?? TimeProvider.System;
        _files = new CertificateFiles(settings, log, _clock);
        Options = new TlsOptions
        {
            // Orleans checks this one at start-up (usages, presence); each handshake then takes the current files below.
            LocalCertificate = _files.Certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateValidation = IsTrusted,
            // A context carries the intermediates from the certificate's file, which a bare certificate would not send.
            OnAuthenticateAsServer = (_, o) =>
            {
                var ssl = (SslServerAuthenticationOptions)o.SslServerAuthenticationOptions;
                ssl.ServerCertificateSelectionCallback = null;
                ssl.ServerCertificate = null;
                ssl.ServerCertificateContext = _files.Context;
            },
            OnAuthenticateAsClient = (_, o) =>
            {
                var ssl = (SslClientAuthenticationOptions)o.SslClientAuthenticationOptions;
                ssl.LocalCertificateSelectionCallback = null;
                ssl.ClientCertificates = null;
                ssl.ClientCertificateContext = _files.Context;
            },
        };
    }

    /// <summary>What Orleans' TLS middleware is given, for silo, gateway and client connections alike.</summary>
    public TlsOptions Options { get; }

    /// <summary>Whether <paramref name="peer"/> chains to a configured authority (expiry included); a refusal is logged, naming it.</summary>
    public bool IsTrusted(X509Certificate2 peer, X509Chain? presented, SslPolicyErrors _)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_files.Authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = _clock.GetUtcNow().UtcDateTime;
        // The intermediates the peer sent, so a certificate issued under an intermediate of the trusted root is accepted.
        if (presented is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
            foreach (var element in presented.ChainElements)
                if (!element.Certificate.Equals(peer)) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        if (chain.Build(peer)) return true;
        // A peer retries its connection; one line a certificate every 30 s names it without flooding the log.
        var now = _clock.GetTimestamp();
        var last = _lastRefusalLogged.GetValueOrDefault(peer.Thumbprint, long.MinValue);
        if (last == long.MinValue || _clock.GetElapsedTime(last, now) >= RefusalLogPeriod)
        {
            if (_lastRefusalLogged.Count >= 1000) _lastRefusalLogged.Clear(); // a peer with ever new certificates grows nothing without bound
            _lastRefusalLogged[peer.Thumbprint] = now;
            var reasons = string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct());
            _log.PeerRefused(peer.Subject, peer.Issuer, peer.Thumbprint, reasons);
        }
        return false;
    }
}
