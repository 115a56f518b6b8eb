using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Placement;
using Orleans.Providers;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Placement;
using RagCluster.Hosting.Diagnostics;
using RagCluster.Hosting.Directories;
using RagCluster.Hosting.Tls;
using RagCluster.Storage;
using RagCluster.Storage.Faults;
using RagCluster.Storage.GrainLogs;
using RagCluster.Storage.GrainRows;
using RagCluster.Storage.Schema;
using RagCluster.Storage.Sqlite;

namespace RagCluster.Hosting;

public static class SiloBuilderExtensions
{
    /// <summary>
    /// Configures this Orleans silo from the "Silo" section: cluster ids, endpoints, membership (localhost or Redis),
    /// grain state (Orleans' ADO.NET storage on SQLite or PostgreSQL, or memory), grain logs, failure detection,
    /// and the diagnostics the API and dashboard read.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is wrong; the message names it.</exception>
    public static ISiloBuilder AddRagClusterSilo(this ISiloBuilder silo, IConfiguration configuration, Action<SiloOptions>? configure = null)
    {
        var options = new SiloOptions();
        configuration.GetSection("Silo").Bind(options);
        configure?.Invoke(options);
        options.Validate();
        var store = StoreLocation.Parse(options.Storage, options.StoragePoolSize);

        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.EffectiveServiceId;
        });
        if (options.UsesRedis)
        {
            silo.Configure<EndpointOptions>(o =>
            {
                o.AdvertisedIPAddress = ResolveAddress(options.AdvertisedHost ?? options.ListenAddress);
                o.SiloPort = options.SiloPort;
                o.GatewayPort = options.GatewayPort;
                o.SiloListeningEndpoint = new IPEndPoint(IPAddress.Parse(options.ListenAddress), options.SiloPort);
                o.GatewayListeningEndpoint = options.GatewayPort == 0 ? null : new IPEndPoint(IPAddress.Parse(options.ListenAddress), options.GatewayPort);
            });
            silo.UseRedisClustering(o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(options.Redis!));
            silo.UseRedisShardDirectory(options.Redis!);
            // Keeps Silo:ClusterId and ServiceId (no ORLEANS_* variables are set) and the advertised address set above.
            if (options.Kubernetes) silo.UseKubernetesHosting();
        }
        else
        {
            // One silo whose membership lives in its own memory: the embedded default and single-process runs.
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, null, options.EffectiveServiceId, options.ClusterId);
        }

        silo.Configure<ClusterMembershipOptions>(o =>
        {
            var m = options.Membership;
            o.ProbeTimeout = m.ProbeTimeout;
            o.NumMissedProbesLimit = m.NumMissedProbesLimit;
            o.NumProbedSilos = m.NumProbedSilos;
            o.NumVotesForDeathDeclaration = m.NumVotesForDeathDeclaration;
            o.DeathVoteExpirationTimeout = m.DeathVoteExpiration;
            o.IAmAliveTablePublishTimeout = m.IAmAlivePeriod;
            o.TableRefreshTimeout = m.TableRefresh;
        });
        silo.Configure<GrainCollectionOptions>(o =>
        {
            o.CollectionAge = options.CollectionAge;
            // A large shard's activation reads its snapshot and re-links its log tail: tens of seconds measured for
            // 250,000 vectors on 2 cores. Orleans' default cancels an activation after 30 s, and every retry then
            // starts the whole load again, so such a shard never came up.
            o.ActivationTimeout = TimeSpan.FromMinutes(10);
        });
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = options.CallTimeout);
        silo.UseRagClusterTls(options.Tls);

        return silo.AddRagClusterServices(store, options);
    }

    /// <summary>
    /// What every RagCluster silo runs besides clustering and endpoints: grain state and logs in <paramref name="store"/>,
    /// activity propagation, the call metrics filter, silo-targeted placement and the diagnostics services. Test
    /// clusters (Orleans.TestingHost), which bring their own membership, call this directly.
    /// </summary>
    public static ISiloBuilder AddRagClusterServices(this ISiloBuilder silo, StoreLocation store, SiloOptions options)
    {
        silo.Services.AddSingleton(options);
        silo.Services.AddSingleton(store);
        AddStorage(silo, store);
        silo.AddActivityPropagation();
        silo.AddIncomingGrainCallFilter<GrainCallMetrics>();
        silo.AddIncomingGrainCallFilter<GrainErrorBoundary>(); // after the metrics filter, so the call is counted as failed either way
        silo.Configure<GrainDirectoryOptions>(o => o.CacheSize = options.DirectoryCacheSize);
        // Orleans' default directory, not its strongly consistent one (AddDistributedGrainDirectory, experimental in
        // 10.4.2): that one kept a dead silo's live neighbours registered, but its lookups after a kill -9 hung until
        // cancelled (ClusterTests' kill test, the 1-copy fault suite). See docs/faults.md, "When a silo dies".
        // Orleans' dashboard collects on every silo; the API serves it at /dashboard/orleans (admin only). Its grain
        // profiler runs only while someone has the page open. Its live log stream is off: logs belong in the log
        // pipeline, and a never-ending response outlives request timeouts.
        silo.AddDashboard(o => o.HideTrace = true);
        silo.Services.AddPlacementDirector<SiloTargetedPlacement, SiloTargetedPlacementDirector>();
        // Roles travel as Orleans silo metadata, which every silo caches for placement filters to read.
        var roles = SiloRoles.Parse(options.Roles);
        silo.Services.AddSingleton(roles);
        silo.UseSiloMetadata(new Dictionary<string, string> { [SiloRoles.MetadataKey] = roles.ToString() });
        silo.Services.AddPlacementFilter<SiloRoleFilterStrategy, SiloRoleFilterDirector>(ServiceLifetime.Transient);
        silo.Services.AddSingleton<SiloRoleFilterDirector>();
        silo.Services.AddPlacementDirector<RendezvousPlacement, RendezvousPlacementDirector>();
        silo.Services.AddSingleton(sp => new HomeSilo(sp.GetRequiredService<IClusterMembershipService>(), sp.GetRequiredService<ILocalSiloDetails>(),
            options.HomeCheckPeriod));
        silo.Services.AddSingleton<ProcessLoad>();
        silo.Services.AddSingleton<Readiness>();
        silo.Services.AddSingleton<ActivationCounts>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SiloAnnouncer>();
        SpanRecorder.Start();
        return silo;
    }

    /// <summary>How often a silo's reminder service reads its range of the reminder table, and so retries a failed first read.</summary>
    public static readonly TimeSpan ReminderRefreshPeriod = TimeSpan.FromSeconds(10);

    private static void AddStorage(ISiloBuilder silo, StoreLocation store)
    {
        // Reminders are Orleans' one facility that fires after every silo restarted with no call from outside: a collection
        // with unsettled documents holds one (Ingest:PendingSweepPeriod, which may be shorter than Orleans' 1-minute floor).
        // A silo's reminder service that fails its first two reads of the table (a database busy or restarting as the silo
        // starts) tries again only at the next refresh, Orleans' 5 minutes, and until then every reminder change routed to
        // it waits 20 s and fails: a collection then refused all documents for 5 minutes in one CI run. A range read every
        // 10 s is one indexed query a silo.
        silo.Configure<ReminderOptions>(o =>
        {
            o.MinimumReminderPeriod = TimeSpan.FromSeconds(1);
            o.RefreshReminderListPeriod = ReminderRefreshPeriod;
        });
        // Orleans warns at every start when that floor is under a minute; here it is chosen, and a sweep is one grain call.
        silo.Services.AddLogging(b => b.AddFilter("Orleans.Hosting.ReminderOptionsValidator", LogLevel.Error));
        if (store.Kind == StoreKind.Memory)
        {
            silo.AddMemoryGrainStorageAsDefault();
            silo.Services.AddGrainLogs(_ => new InMemoryGrainLogStore());
            silo.Services.AddGrainRows(_ => new InMemoryGrainRowStore());
            silo.UseInMemoryReminderService();
            return;
        }
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SchemaInstaller>();
        // Orleans' ADO.NET grain storage, reading its statements from our schema (Schema/*.sql in RagCluster.Storage);
        // state in Orleans' binary format, version tolerant through [GenerateSerializer]/[Id]/[Alias].
        void Configure(OptionsBuilder<AdoNetGrainStorageOptions> ob) => ob.Configure<Serializer>((o, serializer) =>
        {
            o.Invariant = store.AdoNetInvariant;
            o.ConnectionString = store.ConnectionString;
            o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
        });
        // The default provider sits under a decorator that turns driver errors into ours (a Npgsql or SQLite exception
        // cannot cross a silo: Orleans has no codec for it). On PostgreSQL it is Orleans' ADO.NET provider; on SQLite, one
        // writer at a time, ours, which commits overlapping writes together in the same rows (GroupCommitGrainStorage).
        const string Inner = "adonet";
        if (store.Kind == StoreKind.PostgreSql) silo.AddAdoNetGrainStorage(Inner, Configure);
        silo.Services.AddKeyedSingleton<IGrainStorage>(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, (sp, _) =>
            new FaultTranslatingGrainStorage(store.Kind == StoreKind.Sqlite
                ? new GroupCommitGrainStorage(store, sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
                    new OrleansGrainStorageSerializer(sp.GetRequiredService<Serializer>()), sp.GetRequiredService<IActivatorProvider>())
                : sp.GetRequiredKeyedService<IGrainStorage>(Inner)));
        silo.Services.AddSingleton(sp => sp.GetRequiredKeyedService<IGrainStorage>(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME));
        silo.Services.AddGrainLogs(sp => new SqlGrainLogStore(store, sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId));
        silo.Services.AddGrainRows(sp => new SqlGrainRowStore(store, sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId));
        // Orleans' ADO.NET reminder table, in the same database and connection pool (our schema holds its statements).
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = store.AdoNetInvariant;
            o.ConnectionString = store.ConnectionString;
        });
    }

    private static IPAddress ResolveAddress(string host)
    {
        if (IPAddress.TryParse(host, out var ip)) return ip;
        try
        {
            return Dns.GetHostAddresses(host).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or InvalidOperationException)
        {
            throw new ArgumentException($"Silo:AdvertisedHost '{host}' does not resolve to an IPv4 address");
        }
    }
}

/// <summary>Creates or upgrades the database schema before Orleans' storage provider reads its statements from it.</summary>
internal sealed class SchemaInstaller(StoreLocation store, ILogger<SchemaInstaller> log) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) => lifecycle.Subscribe<SchemaInstaller>(ServiceLifecycleStage.RuntimeInitialize, async ct =>
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        await DatabaseSchema.ApplyAsync(store, ct);
        log.SchemaReady(store.Description);
        log.StartStep("schema", started.Elapsed);
    });
}

/// <summary>One line when the silo is active, which scripts and tests wait for; keeps the activation gauges fresh.</summary>
internal sealed class SiloAnnouncer(ILocalSiloDetails silo, SiloOptions options, StoreLocation store, ActivationCounts activations,
    ILogger<SiloAnnouncer> log) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stop = new();
    // From the silo lifecycle's first stage: the silo's own share of a start, apart from the runtime's and the host's.
    private readonly System.Diagnostics.Stopwatch _starting = new();

    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe<SiloAnnouncer>(ServiceLifecycleStage.First, ct => { _starting.Start(); return Task.CompletedTask; });
        lifecycle.Subscribe<SiloAnnouncer>(ServiceLifecycleStage.Active, OnActive, OnStop);
    }

    private Task OnActive(CancellationToken ct)
    {
        log.SiloActive(silo.SiloAddress, options.ClusterId, store.Description, options.UsesRedis ? "Redis" : "localhost");
        log.StartStep("silo start (runtime, schema, membership) to active", _starting.Elapsed);
        _ = activations.RunAsync(_stop.Token);
        return Task.CompletedTask;
    }

    private Task OnStop(CancellationToken ct)
    {
        _stop.Cancel();
        activations.Stop();
        return Task.CompletedTask;
    }
}
