using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// A private certificate authority and the certificates it issues, made in memory (P-256) and written as PEM files the
/// way a Kubernetes TLS secret holds them: what a silo's Silo:Tls settings point at.
/// </summary>
public sealed class TestCertificates(string name, X509Certificate2 authority)
{
    public X509Certificate2 Authority { get; } = authority;
    public string Name { get; } = name;

    public static TestCertificates NewAuthority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return new TestCertificates(name, request.CreateSelfSigned(now.AddDays(-30), now.AddDays(30)));
    }

    /// <summary>A certificate for <paramref name="subject"/> with the server and client usages a silo needs, valid from <paramref name="notBefore"/> (an hour ago) for <paramref name="lifetime"/> (a day).</summary>
    public X509Certificate2 Issue(string subject, DateTimeOffset? notBefore = null, TimeSpan? lifetime = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // server and client authentication
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Authority, true, false));
        var from = notBefore ?? DateTimeOffset.UtcNow.AddHours(-1);
        using var issued = request.Create(Authority, from, from + (lifetime ?? TimeSpan.FromDays(1)), RandomNumberGenerator.GetBytes(12));
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes tls.crt, tls.key and ca.crt for <paramref name="certificate"/> into <paramref name="dir"/>; returns the three paths.</summary>
    public (string Certificate, string Key, string Authority) Write(X509Certificate2 certificate, string dir)
    {
        Directory.CreateDirectory(dir);
        var paths = (Path.Combine(dir, "tls.crt"), Path.Combine(dir, "tls.key"), Path.Combine(dir, "ca.crt"));
        File.WriteAllText(paths.Item1, certificate.ExportCertificatePem());
        File.WriteAllText(paths.Item2, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(paths.Item3, Authority.ExportCertificatePem());
        return paths;
    }

    /// <summary>The silo arguments that turn TLS on with the files <see cref="Write"/> wrote.</summary>
    public static string[] SiloArgs((string Certificate, string Key, string Authority) files) =>
        ["--Silo:Tls:Certificate", files.Certificate, "--Silo:Tls:Key", files.Key, "--Silo:Tls:CertificateAuthority", files.Authority];
}
