using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace RagCluster.Hosting.Tls;

/// <summary>
/// The certificate, its key and the trusted authorities, read from their PEM files and read again every
/// <see cref="TlsSettings.ReloadPeriod"/>: Orleans asks for the certificate at every handshake, so a rotated secret is
/// used by the next connection and established ones keep theirs. A set of files that does not load (a rotation caught
/// half written, a key that does not match) is logged and the last good set kept.
/// </summary>
public sealed class CertificateFiles
{
    private readonly TlsSettings _settings;
    private readonly TimeProvider _clock;
    private readonly ILogger _log;
    private readonly Lock _gate = new();
    private Loaded _current;
    private long _nextCheck;

    private sealed record Loaded(SslStreamCertificateContext Context, X509Certificate2Collection Authorities, byte[] Digest);

    /// <exception cref="ArgumentException">A file does not load; the message names its key.</exception>
    public CertificateFiles(TlsSettings settings, ILogger log, TimeProvider? clock = null)
    {
        _settings = settings;
        _log = log;
        _clock = clock ?? TimeProvider.System;
        var (loaded, error) = TryLoad(Digest());
        _current = loaded ?? throw new ArgumentException(error);
        _nextCheck = _clock.GetTimestamp() + Period;
    }

    /// <summary>The certificate to present now.</summary>
    public X509Certificate2 Certificate => Current().Context.TargetCertificate;

    /// <summary>The certificate with the intermediates that followed it in its file, as a handshake sends them.</summary>
    public SslStreamCertificateContext Context => Current().Context;

    /// <summary>The authorities a peer must chain to now.</summary>
    public X509Certificate2Collection Authorities => Current().Authorities;

    private long Period => (long)(_settings.ReloadPeriod.TotalSeconds * _clock.TimestampFrequency);

    private Loaded Current()
    {
        if (_clock.GetTimestamp() < Volatile.Read(ref _nextCheck)) return _current;
        lock (_gate)
        {
            if (_clock.GetTimestamp() < _nextCheck) return _current;
            // The files' bytes, not their times: a Secret volume changes by swapping a symlink to a new folder, and copied files may keep their times.
            var digest = Digest();
            if (digest is not null && !digest.AsSpan().SequenceEqual(_current.Digest))
            {
                var (loaded, error) = TryLoad(digest);
                if (loaded is null) _log.CertificateNotReloaded(error!);
                else
                {
                    _current = loaded;
                    var c = loaded.Context.TargetCertificate;
                    _log.CertificateReloaded(c.Subject, c.Thumbprint, c.NotAfter);
                }
            }
            Volatile.Write(ref _nextCheck, _clock.GetTimestamp() + Period);
            return _current;
        }
    }

    private byte[]? Digest()
    {
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (var path in Paths()) hash.AppendData(File.ReadAllBytes(path.Path));
            return hash.GetHashAndReset();
        }
        catch (IOException) { return null; } // mid-rotation: try again at the next check
        catch (UnauthorizedAccessException) { return null; }
    }

    private IEnumerable<(string Key, string Path)> Paths() =>
        [("Certificate", _settings.Certificate!), ("Key", _settings.Key!), ("CertificateAuthority", _settings.CertificateAuthority!)];

    private (Loaded? Loaded, string? Error) TryLoad(byte[]? digest)
    {
        if (digest is null) return (null, "Silo:Tls: a certificate file could not be read");
        var key = "Certificate";
        try
        {
            var chain = new X509Certificate2Collection();
            chain.ImportFromPemFile(_settings.Certificate!);
            if (chain.Count == 0) return (null, $"Silo:Tls:Certificate '{_settings.Certificate}' holds no PEM certificate");
            key = "Key";
            var leaf = X509Certificate2.CreateFromPemFile(_settings.Certificate!, _settings.Key!);
            key = "CertificateAuthority";
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPemFile(_settings.CertificateAuthority!);
            if (authorities.Count == 0) return (null, $"Silo:Tls:CertificateAuthority '{_settings.CertificateAuthority}' holds no PEM certificate");
            var intermediates = new X509Certificate2Collection();
            foreach (var c in chain.Skip(1)) intermediates.Add(c);
            return (new Loaded(SslStreamCertificateContext.Create(leaf, intermediates, offline: true), authorities, digest), null);
        }
        catch (Exception e) when (e is CryptographicException or IOException or ArgumentException)
        {
            var path = Paths().First(p => p.Key == key).Path;
            var message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "") : e.Message;
            return (null, $"Silo:Tls:{key} '{path}' does not load: {message.Split('\n')[0].Trim()}");
        }
    }
}
