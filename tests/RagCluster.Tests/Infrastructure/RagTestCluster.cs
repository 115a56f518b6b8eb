using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Hosting;
using Orleans.TestingHost;
using RagCluster.Grains;
using RagCluster.Hosting;
using RagCluster.Hosting.Diagnostics;
using RagCluster.Api;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using RagCluster.Storage;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// In-process silos on Orleans.TestingHost (its own in-memory membership, loopback ports), each configured as a
/// RagCluster silo on a shared store: a SQLite file (default; every silo opens it) or PostgreSQL. Configuration
/// keys (Embedding:*, Collections:*, Query:*) reach every silo; <c>Test:Roles:{silo name}</c> (Primary, Secondary_1, …)
/// sets one silo's Silo:Roles. Silo 0 is the primary and holds the test membership, so tests kill and stop only the others.
/// </summary>
public sealed class RagTestCluster : IAsyncDisposable
{
    private readonly string _dir;

    private RagTestCluster(TestCluster cluster, string dir, string storage)
    {
        Cluster = cluster;
        _dir = dir;
        Storage = storage;
    }

    public TestCluster Cluster { get; }
    public string Storage { get; }
    public IGrainFactory Grains => Cluster.GrainFactory;

    /// <summary>Document grains active across the cluster now (Orleans' own statistics).</summary>
    public async Task<int> ActiveDocumentsAsync() =>
        (await Grains.GetGrain<Orleans.Runtime.IManagementGrain>(0).GetSimpleGrainStatistics())
            .Where(s => s.GrainType.Contains("DocumentGrain", StringComparison.Ordinal)).Sum(s => s.ActivationCount);

    /// <summary>
    /// The API's address when the cluster was started with <c>api: true</c>: the same HTTP API as the API process
    /// (<see cref="RagCluster.Api.RagApi"/>), carried by the primary silo's host.
    /// </summary>
    public Uri? ApiUrl { get; private init; }

    /// <summary>With <c>Auth:BootstrapAdminKey</c> unset, the admin key of tenant "default" the API is started with.</summary>
    public const string ApiAdminKey = "tc-admin-key-0123456789abcdef0123456789";

    public static async Task<RagTestCluster> StartAsync(int silos, string? storage = null, Dictionary<string, string?>? settings = null, string? serviceId = null, bool api = false)
    {
        var dir = Directory.CreateTempSubdirectory("rc-tc").FullName;
        storage ??= $"sqlite:{Path.Combine(dir, "cluster.db")}";
        var builder = new TestClusterBuilder((short)silos);
        builder.Options.ServiceId = serviceId ?? "tc-" + Guid.NewGuid().ToString("N")[..8];
        var config = new Dictionary<string, string?>(settings ?? []) { ["Silo:Storage"] = storage };
        config.TryAdd("Embedding:Model", "none"); // as TestDefaults: a test names the model it wants
        builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection(config));
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        Uri? apiUrl = null;
        if (api)
        {
            apiUrl = new Uri($"http://127.0.0.1:{Ports.Free()}/");
            config["Test:ApiUrl"] = apiUrl.ToString();
            config.TryAdd("Auth:BootstrapAdminKey", ApiAdminKey);
            builder.AddSiloBuilderConfigurator<ApiHostConfigurator>();
        }
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new RagTestCluster(cluster, dir, storage) { ApiUrl = apiUrl };
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            var options = new SiloOptions();
            silo.Configuration.GetSection("Silo").Bind(options);
            if (silo.Configuration[$"Test:Roles:{silo.Configuration["Orleans:Name"]}"] is { } roles) options.Roles = roles;
            silo.Services.AddRagPipeline(silo.Configuration);
            silo.AddRagClusterServices(StoreLocation.Parse(options.Storage, options.StoragePoolSize), options);
            if (int.TryParse(silo.Configuration["Test:FailedReminderReadRounds"], out var rounds)) StartingReminderTable.Install(silo.Services, rounds);
            if (silo.Configuration["Test:HoldableFollowers"] == "true") HeldFollowers.Install(silo);
        }
    }

    /// <summary>Puts the HTTP API on the primary silo's host (Kestrel on loopback), as the API process puts it on its silo.</summary>
    private sealed class ApiHostConfigurator : IHostConfigurator
    {
        public void Configure(IHostBuilder host)
        {
            var configuration = (IConfiguration)host.Properties["Configuration"];
            if (configuration["Orleans:Name"] != "Primary" || configuration["Test:ApiUrl"] is not { } url) return;
            host.ConfigureWebHost(web =>
            {
                RagCluster.Api.RagApiSettings? api = null;
                web.UseKestrel().UseUrls(url);
                web.ConfigureServices((context, services) =>
                {
                    api = services.AddRagApi(context.Configuration);
                    services.AddRagTelemetry(context.Configuration, "ragcluster-test-api");
                });
                web.Configure(app => app.UseRagApi(api!));
            });
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder client) => client.AddActivityPropagation();
    }

    public Task<SiloHandle> StartSiloAsync() => Cluster.StartAdditionalSiloAsync();

    /// <summary>Abrupt: the silo vanishes without deactivating anything.</summary>
    public Task KillAsync(SiloHandle silo) => Cluster.KillSiloAsync(silo);

    public Task StopAsync(SiloHandle silo) => Cluster.StopSiloAsync(silo);

    public async ValueTask DisposeAsync()
    {
        try { await Cluster.StopAllSilosAsync(); } catch { /* best effort */ }
        await Cluster.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
