using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using RagCluster.Client;
using RagCluster.Hosting.Tls;
using RagCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RagCluster.Tests.Tls;

/// <summary>
/// Mutual TLS on real processes: the API silo and a plain silo, each with its own certificate from the cluster's
/// authority, membership in Redis. They form a cluster, a search fans out to shards on both, an Orleans client with a
/// certificate reaches a gateway; a silo whose certificate comes from another authority is refused, named in the
/// log, and never becomes active.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TlsClusterTests(RedisFixture redis, ITestOutputHelper output)
{
    [Fact]
    public async Task Silos_with_the_clusters_certificates_join_and_search_over_TLS_and_an_untrusted_silo_is_refused_and_named()
    {
        var clusterId = "tls-" + Guid.NewGuid().ToString("N")[..6];
        var work = Directory.CreateTempSubdirectory("rc-tls").FullName;
        var authority = TestCertificates.NewAuthority("ragcluster-test-ca");
        var rogueAuthority = TestCertificates.NewAuthority("rogue-ca");
        string[] Common(TestCertificates ca, string name) =>
        [
            "--Silo:ClusterId", clusterId, "--Silo:Storage", "memory", "--Silo:Redis", redis.Server.ConnectionString, "--Embedding:Model", "none",
            "--Logging:LogLevel:Default", "Information", "--Logging:LogLevel:Orleans", "Warning",
            .. TestCertificates.SiloArgs(ca.Write(ca.Issue(name), Path.Combine(work, name))),
        ];
        var adminKey = "tls-admin-" + Guid.NewGuid().ToString("N");
        var url = $"http://127.0.0.1:{Ports.Free()}";
        var processes = new List<SiloProcess>();
        try
        {
            var api = SiloProcess.StartApiAsync(work, url, [.. Common(authority, "api-silo"), "--Auth:BootstrapAdminKey", adminKey]);
            var plain = SiloProcess.StartAsync(work, Common(authority, "silo-one"));
            try { await Task.WhenAll(api, plain); }
            finally { processes.AddRange(new[] { api, plain }.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result)); }
            using var client = new RagClusterClient(new Uri(url + "/"), adminKey);
            await WaitForActiveAsync(client, 2);

            // A search across silos: a collection whose shards sit on both (placement hashes; a new name until they do).
            string collection = "";
            for (var attempt = 0; attempt < 8 && collection == ""; attempt++)
            {
                var name = $"tls{attempt}";
                await client.CreateCollectionAsync(new CreateCollectionRequest(name) { ShardCount = 8 });
                var docs = Enumerable.Range(0, 16).Select(i => new DocumentInput($"d{i}") { Text = $"Document {i} tells of marker{i}x and plain words." }).ToList();
                await client.IngestBatchAsync(name, docs);
                await client.SettledAsync(name, docs.Select(d => d.Id));
                var silos = (await client.GetShardStatsAsync(name)).Select(s => s.Silo).Distinct().Count();
                if (silos == 2) collection = name;
            }
            Assert.NotEqual("", collection);
            for (var i = 0; i < 16; i++)
                Assert.Equal($"d{i}", (await client.SearchAsync(collection, new SearchRequest($"marker{i}x") { TopK = 1 })).Hits.Single().DocumentId);

            // An Orleans client with the cluster's certificate, through the plain silo's gateway.
            var clientFiles = authority.Write(authority.Issue("test-client"), Path.Combine(work, "client"));
            using (var host = new HostBuilder().UseOrleansClient(c =>
                   {
                       c.UseRedisClustering(o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(redis.Server.ConnectionString));
                       c.Configure<ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = clusterId; });
                       c.UseRagClusterTls(new TlsSettings { Certificate = clientFiles.Certificate, Key = clientFiles.Key, CertificateAuthority = clientFiles.Authority });
                   }).Build())
            {
                await host.StartAsync();
                var hosts = await host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
                Assert.Equal(2, hosts.Count);
                await host.StopAsync();
            }

            // A silo with a certificate from another authority: the cluster refuses its connections and votes it dead.
            var rogue = await Assert.ThrowsAsync<InvalidOperationException>(() => SiloProcess.StartAsync(work, Common(rogueAuthority, "rogue-silo")));
            Assert.Contains("exited during start", rogue.Message);
            Assert.Contains(processes, p => p.AllOutput.Contains("Refused a TLS peer whose certificate the cluster does not trust: CN=rogue-silo, issued by CN=rogue-ca"));
            var members = (await client.GetClusterAsync()).Members;
            Assert.Equal(2, members.Count(m => m.Status == "Active"));
            output.WriteLine(string.Join("\n", members.Select(m => $"{m.Address} {m.Status}")));
        }
        catch (Exception)
        {
            foreach (var p in processes) output.WriteLine($"--- {p.SiloAddress}:\n{p.Digest}");
            throw;
        }
        finally
        {
            foreach (var p in processes) await p.DisposeAsync();
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }

    private static async Task WaitForActiveAsync(RagClusterClient client, int silos)
    {
        await Poll.UntilAsync(async () => (await client.GetClusterAsync()).Members.Count(m => m.Status == "Active") == silos);
    }
}
