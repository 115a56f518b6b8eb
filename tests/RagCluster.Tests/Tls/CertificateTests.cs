using System.Security.Cryptography.X509Certificates;
using RagCluster.Hosting.Tls;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Tls;

/// <summary>Which peers a silo's TLS accepts, and how it takes up rotated certificate files.</summary>
public sealed class CertificateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-tls").FullName;
    private readonly TestCertificates _cluster = TestCertificates.NewAuthority("cluster-ca");

    public void Dispose() => Directory.Delete(_dir, true);

    private TlsSettings Settings((string Certificate, string Key, string Authority) files) =>
        new() { Certificate = files.Certificate, Key = files.Key, CertificateAuthority = files.Authority };

    [Fact]
    public void A_peer_is_trusted_only_when_it_chains_to_the_cluster_authority_and_in_its_validity_and_a_refusal_names_it()
    {
        var log = new ListLogger();
        var trust = new PeerTrust(Settings(_cluster.Write(_cluster.Issue("silo-one"), _dir)), log);
        var rogue = TestCertificates.NewAuthority("rogue-ca");

        Assert.True(trust.IsTrusted(_cluster.Issue("silo-two"), null, default));
        Assert.False(trust.IsTrusted(rogue.Issue("rogue-silo"), null, default));
        Assert.False(trust.IsTrusted(_cluster.Issue("expired-silo", DateTimeOffset.UtcNow.AddDays(-3), TimeSpan.FromDays(1)), null, default));
        // A self-signed certificate with the cluster authority's name is not the authority.
        Assert.False(trust.IsTrusted(TestCertificates.NewAuthority("cluster-ca").Authority, null, default));

        var refusals = log.Lines.Where(l => l.Contains("Refused a TLS peer")).ToList();
        Assert.Contains(refusals, l => l.Contains("CN=rogue-silo") && l.Contains("CN=rogue-ca"));
        Assert.Contains(refusals, l => l.Contains("CN=expired-silo") && l.Contains(nameof(X509ChainStatusFlags.NotTimeValid)));
        // A peer that retries is named once per 30 s, not at every attempt.
        var again = rogue.Issue("rogue-again");
        for (var i = 0; i < 5; i++) Assert.False(trust.IsTrusted(again, null, default));
        Assert.Single(log.Lines, l => l.Contains("CN=rogue-again"));
    }

    [Fact]
    public void Rotated_files_are_used_after_the_reload_period_and_a_rotation_that_does_not_load_keeps_the_last_good_one()
    {
        var clock = new ManualClock();
        var log = new ListLogger();
        var first = _cluster.Issue("silo-one");
        var files = new CertificateFiles(Settings(_cluster.Write(first, _dir)), log, clock);
        Assert.Equal(first.Thumbprint, files.Certificate.Thumbprint);

        var second = _cluster.Issue("silo-one");
        _cluster.Write(second, _dir);
        Assert.Equal(first.Thumbprint, files.Certificate.Thumbprint); // read again only once the period is over
        clock.Now += new TlsSettings().ReloadPeriod;
        Assert.Equal(second.Thumbprint, files.Certificate.Thumbprint);
        Assert.Equal(second.Thumbprint, files.Context.TargetCertificate.Thumbprint);
        Assert.Contains(log.Lines, l => l.Contains("TLS certificate reloaded") && l.Contains(second.Thumbprint));

        // Caught half way: the new certificate is there, its key is not yet.
        File.WriteAllText(Path.Combine(_dir, "tls.crt"), _cluster.Issue("silo-one").ExportCertificatePem());
        clock.Now += new TlsSettings().ReloadPeriod;
        Assert.Equal(second.Thumbprint, files.Certificate.Thumbprint);
        Assert.Contains(log.Lines, l => l.Contains("do not load") && l.Contains("Silo:Tls:Key"));
    }

    [Fact]
    public void Settings_that_cannot_work_name_the_key_to_fix()
    {
        var files = _cluster.Write(_cluster.Issue("silo-one"), _dir);
        Assert.False(new TlsSettings().Enabled);
        new TlsSettings().Validate(); // off: nothing to check

        var noKey = Assert.Throws<ArgumentException>(() => new TlsSettings { Certificate = files.Certificate, CertificateAuthority = files.Authority }.Validate());
        Assert.Contains("Silo:Tls:Key is not set", noKey.Message);
        var missing = Assert.Throws<ArgumentException>(() => new TlsSettings { Certificate = files.Certificate, Key = files.Key + ".gone", CertificateAuthority = files.Authority }.Validate());
        Assert.Contains($"Silo:Tls:Key '{files.Key}.gone' does not exist", missing.Message);

        // Another certificate's key: refused at start-up with the key named, not at the first handshake.
        var other = _cluster.Write(_cluster.Issue("silo-two"), Path.Combine(_dir, "other"));
        var mismatch = Assert.Throws<ArgumentException>(() => new PeerTrust(new TlsSettings { Certificate = files.Certificate, Key = other.Key, CertificateAuthority = files.Authority }, new ListLogger()));
        Assert.StartsWith($"Silo:Tls:Key '{other.Key}' does not load", mismatch.Message);
    }
}
