using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RagCluster.Runtime;
using RagCluster.Runtime.Activation;
using RagCluster.Runtime.Hosting;
using RagCluster.Runtime.Membership;
using RagCluster.Runtime.Storage;
using RagCluster.TestGrains;

namespace RagCluster.Tests.Infrastructure;

/// <summary>A silo started by a test, in this process or as a child process.</summary>
public abstract class TestSilo
{
    public string Address { get; protected set; } = "";
    public string SiloId { get; protected set; } = "";
    /// <summary>Leave gracefully (deactivate, persist, mark dead).</summary>
    public abstract Task StopAsync();
    /// <summary>Crash: kill -9 for a process, an abrupt vanish for an in-process silo.</summary>
    public abstract Task KillAsync();
    public abstract bool IsAlive { get; }
}

public sealed class InProcessSilo(Silo silo) : TestSilo
{
    public Silo Silo { get; } = silo;
    public override Task StopAsync() => Silo.StopAsync();
    public override Task KillAsync() => Silo.KillAsync();
    public override bool IsAlive => Silo.IsRunning;

    internal void Started()
    {
        Address = Silo.Address;
        SiloId = Silo.SiloId;
    }
}

public sealed class ProcessSilo : TestSilo
{
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    public ProcessSilo(ProcessStartInfo psi)
    {
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException("silo process exited during start:\n" + Output));
    }

    public string Output
    {
        get { lock (_output) return string.Join('\n', _output.TakeLast(60)); }
    }

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;
    public override bool IsAlive => !_process.HasExited;

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_output) _output.Add(line);
        // "Silo <id> serving N grain type(s) on <address>, store ..." marks the end of start-up.
        var marker = line.IndexOf("RagCluster.Silo[0] Silo ", StringComparison.Ordinal);
        if (marker >= 0 && line.Contains(" serving "))
        {
            var rest = line[(marker + "RagCluster.Silo[0] Silo ".Length)..];
            SiloId = rest[..rest.IndexOf(' ')];
            var on = rest.IndexOf(" on ", StringComparison.Ordinal) + 4;
            Address = rest[on..rest.IndexOf(',', on)];
            _ready.TrySetResult();
        }
    }

    public async Task StartAsync()
    {
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await _ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    public override async Task StopAsync()
    {
        if (_process.HasExited) return;
        using (var kill = Process.Start("kill", $"-TERM {_process.Id}")) await kill.WaitForExitAsync();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    public override async Task KillAsync()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true); // SIGKILL: no hooks, no leave, no flush
        await _process.WaitForExitAsync();
    }
}

/// <summary>
/// N silos on loopback sharing one store (in-memory, SQLite file or PostgreSQL), with fast failure detection
/// for tests. Silos can be added, stopped, killed and restarted while the test runs.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly List<ClusterClient> _clients = [];
    private readonly InMemoryClusterStore? _memoryStore;
    private readonly string _tempDir = Path.Combine(Path.GetTempPath(), "ragcluster-tc-" + Guid.NewGuid().ToString("N")[..8]);

    public TestCluster(string? storage = null, Action<SiloOptions>? configure = null)
    {
        Directory.CreateDirectory(_tempDir);
        ClusterId = "tc-" + Guid.NewGuid().ToString("N")[..8];
        Storage = storage ?? $"sqlite:{Path.Combine(_tempDir, "cluster.db")}";
        if (Storage == "memory") _memoryStore = new InMemoryClusterStore();
        Configure = configure;
    }

    public string ClusterId { get; }
    public string Storage { get; }
    public Action<SiloOptions>? Configure { get; }
    public List<TestSilo> Silos { get; } = [];

    public SiloOptions NewOptions()
    {
        var options = new SiloOptions
        {
            ClusterId = ClusterId,
            Storage = Storage,
            SiloPort = 0,
            HeartbeatPeriod = TimeSpan.FromMilliseconds(500),
            DeathTimeout = TimeSpan.FromSeconds(3),
            CallTimeout = TimeSpan.FromSeconds(20),
        };
        Configure?.Invoke(options);
        return options;
    }

    /// <summary>Services every in-process silo of this cluster gets (the RAG tests add the pipeline here).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }

    public async Task<InProcessSilo> StartInProcessSiloAsync()
    {
        var options = NewOptions();
        var collection = new ServiceCollection().AddLogging(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        ConfigureServices?.Invoke(collection);
        var services = collection.BuildServiceProvider();
        var registry = new GrainTypeRegistry().AddAssembly(typeof(CounterGrain).Assembly).AddAssembly(typeof(RagCluster.Grains.Diagnostics.PingGrain).Assembly);
        var silo = new Silo(options, registry, services, services.GetRequiredService<ILoggerFactory>(), _memoryStore);
        await silo.StartAsync();
        var test = new InProcessSilo(silo);
        test.Started();
        Silos.Add(test);
        return test;
    }

    /// <summary>A real `RagCluster.Silo` process (the shipped host) loading the test grains.</summary>
    public async Task<ProcessSilo> StartProcessSiloAsync()
    {
        if (_memoryStore is not null) throw new InvalidOperationException("an in-memory store cannot be shared with a child process");
        var options = NewOptions();
        var bin = AppContext.BaseDirectory;
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _tempDir,
        };
        foreach (var a in new[]
                 {
                     Path.Combine(bin, "RagCluster.Silo.dll"),
                     "--Silo:ClusterId", options.ClusterId, "--Silo:Storage", options.Storage, "--Silo:SiloPort", "0",
                     "--Silo:HeartbeatPeriod", options.HeartbeatPeriod.ToString(), "--Silo:DeathTimeout", options.DeathTimeout.ToString(),
                     "--Silo:CallTimeout", options.CallTimeout.ToString(),
                     "--Silo:GrainAssemblies:0", typeof(CounterGrain).Assembly.Location,
                     "--Logging:LogLevel:Default", "Information",
                 })
            psi.ArgumentList.Add(a);
        var silo = new ProcessSilo(psi);
        await silo.StartAsync();
        Silos.Add(silo);
        return silo;
    }

    /// <summary>Waits until every in-process silo routes by the table's current version (views spread by polling).</summary>
    public async Task WaitForStableViewAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            var version = (await ReadMembershipAsync()).Version;
            if (Silos.OfType<InProcessSilo>().Where(s => s.IsAlive).All(s => s.Silo.ViewVersion == version)) return;
            await Task.Delay(50);
        }
        throw new TimeoutException("silos did not converge on one membership view");
    }

    public ClusterClient CreateClient(TestSilo gateway, TimeSpan? timeout = null) => CreateClient([gateway], timeout);

    /// <summary>A client that fails over between these gateways, as a production client with several would.</summary>
    public ClusterClient CreateClient(IEnumerable<TestSilo> gateways, TimeSpan? timeout = null)
    {
        var client = new ClusterClient(new ClusterClientOptions { Gateways = gateways.Select(g => g.Address).ToList(), CallTimeout = timeout ?? TimeSpan.FromSeconds(20) });
        _clients.Add(client);
        return client;
    }

    /// <summary>Reads the membership table directly, as an operator would.</summary>
    public async Task<MembershipSnapshot> ReadMembershipAsync()
    {
        if (_memoryStore is not null) return await _memoryStore.ReadAllAsync();
        await using var store = ClusterStoreFactory.Create(Storage, ClusterId, ClusterId);
        return await store.ReadAllAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in _clients) c.Dispose();
        foreach (var s in Silos.Where(s => s.IsAlive))
        {
            try { await s.KillAsync(); } catch { /* best effort */ }
        }
        try { Directory.Delete(_tempDir, recursive: true); } catch { /* best effort */ }
    }
}
