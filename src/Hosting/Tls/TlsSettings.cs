namespace RagCluster.Hosting.Tls;

/// <summary>
/// Mutual TLS between silos and on the gateway, bound from "Silo:Tls": PEM files as a Kubernetes TLS secret holds them
/// (tls.crt, tls.key, ca.crt; cert-manager writes all three). Off when <see cref="Certificate"/> is unset, as on the
/// embedded single silo. Every connection both ways presents <see cref="Certificate"/> and accepts only a peer whose
/// certificate chains to <see cref="CertificateAuthority"/>; see docs/tls.md.
/// </summary>
public sealed class TlsSettings
{
    /// <summary>This silo's (or client's) certificate, PEM; intermediates may follow it. Needs server and client auth usages.</summary>
    public string? Certificate { get; set; }

    /// <summary>The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).</summary>
    public string? Key { get; set; }

    /// <summary>The authorities a peer's certificate must chain to, PEM (one or more; during a CA rotation, old and new).</summary>
    public string? CertificateAuthority { get; set; }

    /// <summary>How often the files are read again: a rotated certificate is used from the next connection after that.</summary>
    public TimeSpan ReloadPeriod { get; set; } = TimeSpan.FromSeconds(30);

    public bool Enabled => !string.IsNullOrWhiteSpace(Certificate) || !string.IsNullOrWhiteSpace(Key) || !string.IsNullOrWhiteSpace(CertificateAuthority);

    /// <summary>Checks that the three files are named together and exist; <paramref name="section"/> prefixes the keys named.</summary>
    public void Validate(string section = "Silo:Tls")
    {
        if (!Enabled) return;
        foreach (var (key, path) in new[] { ("Certificate", Certificate), ("Key", Key), ("CertificateAuthority", CertificateAuthority) })
        {
            if (string.IsNullOrWhiteSpace(path))
                throw new ArgumentException($"{section}:{key} is not set: TLS needs Certificate, Key and CertificateAuthority (PEM files) together");
            if (!File.Exists(path)) throw new ArgumentException($"{section}:{key} '{path}' does not exist");
        }
        if (ReloadPeriod < TimeSpan.FromSeconds(1)) throw new ArgumentException($"{section}:ReloadPeriod must be at least 1 second");
    }
}
