using System.Diagnostics;
using RagCluster.Client;

namespace RagCluster.Tests.Infrastructure;

/// <summary>The shipped API process (src/Api) on loopback, as the README starts it, with the test model.</summary>
public class ApiProcess : IAsyncLifetime
{
    private Process? _process;
    private readonly List<Process> _silos = [];
    private readonly string _data = Directory.CreateTempSubdirectory("rc-api").FullName;
    /// <summary>The embedded store every process of the fixture shares.</summary>
    public string StoreFile => Path.Combine(_data, "ragcluster.db");
    /// <summary>Raw HTTP, for what tests check on the wire (status codes, headers, problem bodies); the rest goes through <see cref="Client"/>.</summary>
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };
    /// <summary>The .NET client (src/Client) with the admin key of tenant "default": how an application calls the API.</summary>
    public RagClusterClient Client { get; private set; } = null!;
    /// <summary>Passed as Auth:BootstrapAdminKey; <see cref="Http"/> sends it on every request (tenant "default").</summary>
    public string AdminKey { get; } = "test-admin-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
    protected virtual string ModelDirectory => RepoPaths.TestModel;
    protected virtual string[] ExtraArgs => [];
    /// <summary>
    /// Processes embedding on 2 shared cores can stall for seconds; probes of 5 s (three missed declare a silo dead)
    /// keep a busy, healthy silo from being declared dead (and stopping itself) mid-test.
    /// </summary>
    private const string ProbeTimeout = "00:00:05";
    private RedisServer? _redis;

    /// <summary>Plain silos (src/Silo) started beside the API silo on the same store: a multi-silo cluster.</summary>
    protected virtual int ExtraSilos => 0;
    /// <summary>Tests send bursts from one address and key; only the rate-limit test uses the real defaults' scale.</summary>
    protected virtual string[] RateLimitArgs => ["--RateLimit:PermitsPerSecond", "100000", "--RateLimit:Burst", "100000",
        "--RateLimit:AnonymousPermitsPerSecond", "100000", "--RateLimit:AnonymousBurst", "100000",
        "--RateLimit:FailedKeyChecksPerSecond", "100000", "--RateLimit:FailedKeyChecksBurst", "100000"];
    public List<string> Output { get; } = [];

    /// <summary>Options every process of the fixture's cluster shares: cluster, model, CPU, death timeout.</summary>
    private IEnumerable<string> CommonArgs =>
    [
        "--Silo:SiloPort", Ports.Free().ToString(), "--Silo:GatewayPort", "0", "--Silo:ClusterId", ClusterId, "--Embedding:ModelDirectory", ModelDirectory,
        "--Embedding:ExecutionProvider", "cpu", "--Silo:Membership:ProbeTimeout", ProbeTimeout,
        .. (_redis is null ? Array.Empty<string>() : ["--Silo:Redis", _redis.ConnectionString]),
    ];

    /// <summary>The cluster (and service) id every process of the fixture runs with: the key of its rows in the store.</summary>
    public const string ClusterId = "api-test";

    /// <summary>Runs before any process starts, on the empty data folder: a subclass may put a store there (an earlier version's).</summary>
    protected virtual Task PrepareStoreAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        await PrepareStoreAsync();
        // Several silos form a cluster through Redis membership; state stays in the shared SQLite file.
        if (ExtraSilos > 0) _redis = await RedisServer.StartAsync();
        var url = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _process = Launch("RagCluster.Api.dll", "", line =>
        {
            const string marker = "RagCluster API listening on ";
            if (line.StartsWith(marker)) url.TrySetResult(line[marker.Length..].Trim());
        }, ["--urls", "http://127.0.0.1:0", "--Storage:Path", _data, .. CommonArgs, "--Auth:BootstrapAdminKey", AdminKey, .. RateLimitArgs, .. ExtraArgs]);
        var done = await Task.WhenAny(url.Task, Task.Delay(TimeSpan.FromSeconds(60)), _process.WaitForExitAsync());
        if (done != url.Task) throw new InvalidOperationException("API did not start:\n" + string.Join("\n", Output));
        Http.BaseAddress = new Uri(url.Task.Result.TrimEnd('/') + "/");
        Http.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);
        Client = new RagClusterClient(Http.BaseAddress, AdminKey);
        for (var i = 0; i < ExtraSilos; i++)
            _silos.Add(Launch("RagCluster.Silo.dll", "[silo] ", null, ["--Silo:Storage", $"sqlite:{Path.Combine(_data, "ragcluster.db")}", .. CommonArgs]));
        if (ExtraSilos > 0) await WaitForMembers(1 + ExtraSilos);
        await Client.EnsureCollectionAsync(new("docs"));
    }

    /// <summary>Starts one of the shipped hosts in the data folder; its output lines go to <see cref="Output"/>.</summary>
    private Process Launch(string dll, string prefix, Action<string>? onStdout, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _data };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (Output) Output.Add(prefix + e.Data);
            onStdout?.Invoke(e.Data);
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (Output) Output.Add(prefix + e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    public Task WaitForMembers(int count) => Poll.UntilAsync(async () =>
        (await Client.GetClusterAsync()).Members.Count(m => m.Status == "Active") >= count);

    /// <summary>Whether every process of the cluster is still running.</summary>
    public bool AllAlive => _process is { HasExited: false } && _silos.All(s => !s.HasExited);

    /// <summary>Creates a collection for the tenant of <paramref name="key"/> (the admin key by default), or finds it there already.</summary>
    public async Task CreateCollection(string name, string? key = null)
    {
        using var client = new RagClusterClient(Http.BaseAddress!, key ?? AdminKey);
        await client.EnsureCollectionAsync(new(name));
    }

    public async Task DisposeAsync()
    {
        foreach (var s in _silos.Where(s => !s.HasExited)) s.Kill(true);
        if (_process is { HasExited: false })
        {
            Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();
            if (!_process.WaitForExit(15_000)) _process.Kill(true);
        }
        if (_redis is not null) await _redis.DisposeAsync();
        Client?.Dispose();
        Http.Dispose();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

/// <summary>The API silo with two more silos on the same store: a running 3-silo cluster to attack.</summary>
public sealed class ThreeSiloApiProcess : ApiProcess
{
    protected override int ExtraSilos => 2;
}
