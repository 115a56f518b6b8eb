using System.Reflection;
using System.Runtime.Loader;
using Microsoft.Extensions.Logging;
using RagCluster.Runtime.Activation;
using RagCluster.Runtime.Invocation;
using RagCluster.Runtime.Membership;
using RagCluster.Runtime.Messaging;
using RagCluster.Runtime.Storage;
using RagCluster.Runtime.Transport;

namespace RagCluster.Runtime.Hosting;

/// <summary>
/// One silo: its endpoint, membership agent, catalog and dispatcher. Grain code never sees this class; it is
/// reached through <see cref="IGrainFactory"/>.
/// </summary>
public sealed class Silo : IGrainFactory, IAsyncDisposable
{
    private readonly SiloOptions _options;
    private readonly IClusterStore _store;
    private readonly bool _ownsStore;
    private readonly ILogger _log;
    private readonly ILoggerFactory _loggerFactory;
    private readonly SiloEndpoint _endpoint = new();
    private readonly SiloTransportClient _transport;
    private readonly MembershipService _membership;
    private readonly Catalog _catalog;
    private readonly Dispatcher _dispatcher;
    private readonly Sender _sender;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _collector;
    private int _state; // 0 new, 1 running, 2 stopping, 3 stopped

    /// <param name="services">Where grain constructors get their dependencies.</param>
    /// <param name="store">Shared store; when null one is created from <see cref="SiloOptions.Storage"/>.</param>
    public Silo(SiloOptions options, GrainTypeRegistry registry, IServiceProvider services, ILoggerFactory loggerFactory, IClusterStore? store = null)
    {
        options.Validate();
        _options = options;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger("RagCluster.Silo");
        foreach (var path in options.GrainAssemblies)
            registry.AddAssembly(LoadAssembly(path));
        Registry = registry;
        _ownsStore = store is null;
        _store = store ?? ClusterStoreFactory.Create(options.Storage, options.ClusterId, options.EffectiveServiceId);
        _transport = new SiloTransportClient(options.MaxMessageBytes);
        _membership = new MembershipService(_store, _store, options, loggerFactory.CreateLogger("RagCluster.Membership"));
        _catalog = new Catalog(services, _store, _membership, this, options, loggerFactory.CreateLogger("RagCluster.Catalog"));
        _dispatcher = new Dispatcher(registry, _catalog, _membership, _transport, options, () => _state >= 2, loggerFactory.CreateLogger("RagCluster.Dispatcher"));
        _sender = new Sender(this);
        _membership.ViewChanged += _ => _catalog.OnViewChanged();
        _membership.DeclaredDead += () => _ = TerminateAsync();
    }

    public GrainTypeRegistry Registry { get; }
    public string SiloId => _membership.SiloId;
    public string Address => _membership.Address;
    public bool IsRunning => _state == 1;
    public long ViewVersion => _membership.Current.Version;
    public IReadOnlyList<MembershipEntry> Members => _membership.Current.Entries;
    public int ActivationCount => _catalog.Count;
    public IReadOnlyDictionary<string, int> ActivationsByType() => _catalog.CountByType();
    public IReadOnlyDictionary<string, int> QueuedByType() => _catalog.QueuedByType();

    /// <summary>Readiness: the store answers within <paramref name="timeout"/> and lists this silo as active.</summary>
    public async Task<(bool StoreReachable, bool Joined, string Detail)> CheckHealthAsync(TimeSpan timeout)
    {
        if (!IsRunning) return (false, false, "silo is not running");
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            var snapshot = await _store.ReadAllAsync(cts.Token);
            var me = snapshot.Entries.FirstOrDefault(e => e.SiloId == SiloId);
            return me is { Status: Membership.SiloStatus.Active }
                ? (true, true, $"active in membership version {snapshot.Version}")
                : (true, false, $"not active in the membership table (status {me?.Status.ToString() ?? "missing"})");
        }
        catch (Exception e) when (e is OperationCanceledException or System.Data.Common.DbException or IOException or InvalidOperationException)
        {
            return (false, false, $"store unreachable: {e.Message}");
        }
    }

    /// <summary>Raised when the silo stops on its own (declared dead by the cluster); hosts should exit.</summary>
    public event Action? Terminated;

    public TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey =>
        GrainProxy.Create<TGrainInterface>(_sender, key);

    public async Task StartAsync(CancellationToken ct = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) throw new InvalidOperationException("silo already started");
        await _store.InitializeAsync(ct);
        var port = await _endpoint.StartAsync(_options, _dispatcher.DispatchAsync, () => ViewVersion, Status, _loggerFactory);
        var host = string.IsNullOrWhiteSpace(_options.AdvertisedHost) ? _options.ListenAddress : _options.AdvertisedHost;
        var address = $"http://{host}:{port}";
        // Generation tells a restarted silo on the same address from its dead predecessor.
        var siloId = $"{host}:{port}@{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}";
        await _membership.JoinAsync(siloId, address, ct);
        _collector = Task.Run(CollectLoopAsync);
        Diagnostics.RuntimeMetrics.Track(this);
        Diagnostics.SpanRecorder.Start();
        _log.LogInformation("Silo {Silo} serving {Types} grain type(s) on {Address}, store {Store}",
            siloId, Registry.InterfaceNames.Count(), address, _store.Describe());
    }

    /// <summary>Leaves gracefully: stop taking placements, deactivate (and so persist) every grain, mark dead, close.</summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        Diagnostics.RuntimeMetrics.Untrack(this);
        if (Interlocked.CompareExchange(ref _state, 2, 1) != 1) return;
        _log.LogInformation("Silo {Silo} leaving the cluster", SiloId);
        try
        {
            await _membership.WriteSelfAsync(SiloStatus.ShuttingDown, ct);
            await _catalog.DeactivateAllAsync(DeactivationReason.SiloShutdown);
            await _membership.WriteSelfAsync(SiloStatus.Dead, ct);
        }
        catch (Exception e)
        {
            _log.LogError(e, "Graceful leave of {Silo} did not complete; the others will declare it dead", SiloId);
        }
        await ShutdownAsync(abrupt: false);
    }

    /// <summary>Crash simulation for tests: vanish without telling anyone or persisting anything.</summary>
    public async Task KillAsync()
    {
        Diagnostics.RuntimeMetrics.Untrack(this);
        if (Interlocked.Exchange(ref _state, 3) == 3) return;
        // Stop beating and serving first (ShutdownAsync), then drop the activations without any hook.
        await ShutdownAsync(abrupt: true);
        _catalog.AbandonAll();
    }

    private async Task TerminateAsync()
    {
        // Declared dead: our grains may already live elsewhere, so drop them without hooks and stop.
        if (Interlocked.CompareExchange(ref _state, 3, 1) != 1) return;
        _catalog.AbandonAll();
        await ShutdownAsync(abrupt: true);
        Terminated?.Invoke();
    }

    private async Task ShutdownAsync(bool abrupt)
    {
        _state = 3;
        // Cancel() runs every registered continuation inline; on the pool, none of them can hold the caller.
        await Bounded(Task.Run(_stopping.Cancel), "cancelling the silo's loops and timers");
        await Bounded(_membership.StopLoopAsync(), "membership loop");
        await Bounded(_endpoint.StopAsync(abrupt), "silo endpoint");
        if (_collector is not null) await Bounded(_collector, "idle collector");
        if (_ownsStore) await Bounded(_store.DisposeAsync().AsTask(), "store");
    }

    /// <summary>
    /// A stopping (or crashing) silo waits for each part a bounded time: a part that does not stop is reported and
    /// left behind, so neither a host shutdown nor a test's crash simulation can hang on it.
    /// </summary>
    private async Task Bounded(Task step, string what)
    {
        try
        {
            await step.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            _log.LogWarning("Silo {Silo} shutdown: the {Step} did not finish within 10 s; continuing without it", SiloId, what);
        }
    }

    private async Task CollectLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.CollectionQuantum, _stopping.Token);
                await _catalog.CollectIdleAsync();
            }
            catch (OperationCanceledException) { return; }
            catch (Exception e) { _log.LogWarning(e, "Idle collection failed"); }
        }
    }

    private object Status() => new
    {
        siloId = SiloId,
        address = Address,
        viewVersion = ViewVersion,
        activations = _catalog.CountByType().ToDictionary(kv => Diagnostics.RuntimeMetrics.ShortName(kv.Key), kv => kv.Value),
        queued = _catalog.QueuedByType().ToDictionary(kv => Diagnostics.RuntimeMetrics.ShortName(kv.Key), kv => kv.Value),
        load = _load.Sample(),
        methods = Diagnostics.MethodStats.Snapshot(),
        members = _membership.Current.Entries.Select(e => new { e.SiloId, e.Address, status = e.Status.ToString(), e.HeartbeatAgeMs }),
    };

    private readonly Diagnostics.ProcessLoad _load = new();

    /// <summary>Another member's /rpc/status (activations, queues, load, method stats) as JSON.</summary>
    public Task<string> GetMemberStatusAsync(string address, TimeSpan timeout) => _transport.GetDiagnosticsAsync(address, "/rpc/status", timeout);

    /// <summary>The spans another member recorded for a trace, as JSON.</summary>
    public Task<string> GetMemberSpansAsync(string address, string traceId, TimeSpan timeout) =>
        _transport.GetDiagnosticsAsync(address, "/rpc/spans?traceId=" + Uri.EscapeDataString(traceId), timeout);

    private static Assembly LoadAssembly(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"grain assembly {full} (Silo:GrainAssemblies) does not exist", full);
        var name = AssemblyName.GetAssemblyName(full);
        return AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => AssemblyName.ReferenceMatchesDefinition(a.GetName(), name))
               ?? AssemblyLoadContext.Default.LoadFromAssemblyPath(full);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _transport.Dispose();
    }

    /// <summary>Calls made from this silo (grain to grain, or host code): routed by the dispatcher like any other.</summary>
    private sealed class Sender(Silo silo) : IGrainCallSender
    {
        public Task<object?> SendAsync(GrainId target, GrainMethod method, object?[]? args) =>
            CallRetryLoop.CallAsync(target, method, args, silo._options.CallTimeout,
                frame => silo._state == 1 || silo._state == 2
                    ? silo._dispatcher.DispatchAsync(frame)
                    : Task.FromResult(ResponseFrame.Failure(ResponseStatus.Unavailable, "silo is not running", silo.ViewVersion)),
                (response, _) => silo._membership.RefreshAsync(response.ViewVersion > silo.ViewVersion ? response.ViewVersion : null, CancellationToken.None),
                () => silo.ViewVersion);
    }
}
