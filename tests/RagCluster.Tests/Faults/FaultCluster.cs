using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Faults;

/// <summary>
/// The README's cluster recipe as real processes on loopback: the front-end silo with the HTTP API plus
/// <see cref="PlainSilos"/> plain silos, grain state in a PostgreSQL of its own whose <c>max_connections</c> is lowered to
/// <see cref="MaxConnections"/> (so each silo's pool budget is what holds the connection count down, not a roomy server),
/// membership in a Redis of its own (no persistence, as the README starts it). Every part can be killed or restarted.
/// </summary>
public sealed class FaultCluster : IAsyncDisposable
{
    public const int PlainSilos = 3;
    public const int MaxConnections = 40;
    /// <summary>Per silo: 4 silos x 9 = 36, within 40 less PostgreSQL's 3 superuser slots and one for the suite's own checks.</summary>
    public const int PoolSize = 9;
    /// <summary>Unsettled documents are looked at every 5 s (the default is 30 s), so "within 10 s" can be checked.</summary>
    public const string SweepPeriod = "00:00:05";

    private readonly string _work = Directory.CreateTempSubdirectory("rc-faults").FullName;
    private readonly string _clusterId = "faults-" + Guid.NewGuid().ToString("N")[..6];
    private readonly string _adminKey = "fault-admin-" + Guid.NewGuid().ToString("N");
    private readonly string _url = $"http://127.0.0.1:{Ports.Free()}";
    private string _storage = "";
    /// <summary>The silos' Silo:Storage (the PostgreSQL database), for faults injected into it.</summary>
    public string Storage => _storage;

    public PostgresServer Postgres { get; private set; } = null!;
    public RedisServer Redis { get; private set; } = null!;
    public SiloProcess? Api { get; private set; }
    public SiloProcess?[] Silos { get; } = new SiloProcess?[PlainSilos];
    public HttpClient Http { get; private set; } = null!;

    /// <summary>Every process that ever ran here, killed ones too, for the report of a failed run.</summary>
    public List<SiloProcess> History { get; } = [];

    public static async Task<FaultCluster> StartAsync()
    {
        var c = new FaultCluster();
        try
        {
            c.Postgres = await PostgresServer.StartAsync(maxConnections: MaxConnections);
            c._storage = await c.Postgres.CreateDatabaseAsync("ragcluster");
            c.Redis = await RedisServer.StartAsync();
            c.Http = new HttpClient { BaseAddress = new Uri(c._url + "/"), Timeout = TimeSpan.FromSeconds(120) };
            c.Http.DefaultRequestHeaders.Add("X-Api-Key", c._adminKey);
            await c.StartAllAsync();
            return c;
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }

    private string[] Common() =>
    [
        "--Silo:ClusterId", _clusterId, "--Silo:ServiceId", _clusterId, "--Silo:Storage", _storage,
        "--Silo:StoragePoolSize", PoolSize.ToString(), "--Silo:Redis", Redis.ConnectionString,
        "--Ingest:PendingSweepPeriod", SweepPeriod,
        "--Reshard:PageChunks", "32", // a reshard of the small test collection copies in many steps, with writes between them
        "--Query:SlowSearchMs", "250", // a slow search's steps in the log, which phase 3 reports
        "--Logging:LogLevel:Default", "Information", "--Logging:LogLevel:Orleans", "Warning", "--Logging:LogLevel:Microsoft", "Warning",
        // RAGCLUSTER_FAULT_SUITE_SILO_ARGS: more options for every process (e.g. a log level for one Orleans category).
        .. (Environment.GetEnvironmentVariable("RAGCLUSTER_FAULT_SUITE_SILO_ARGS") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries),
    ];

    // Four silos share this machine's cores: the README's setting for that.
    private static readonly Dictionary<string, string> SharedCores = new() { ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0" };

    /// <summary>The API silo and every plain silo, started together; returns when all are active and the API listens.</summary>
    public async Task StartAllAsync()
    {
        var api = SiloProcess.StartApiAsync(_work, _url, [.. Common(), "--Auth:BootstrapAdminKey", _adminKey,
            "--RateLimit:PermitsPerSecond", "1000000", "--RateLimit:Burst", "1000000"], SharedCores);
        var silos = Enumerable.Range(0, PlainSilos).Select(_ => SiloProcess.StartAsync(_work, Common(), SharedCores)).ToArray();
        Task<SiloProcess>[] starting = [api, .. silos];
        // Every start is waited for, and each process that came up goes into History, so a failed start leaks none.
        try
        {
            await Task.WhenAll(starting);
        }
        finally
        {
            History.AddRange(starting.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
        }
        Api = api.Result;
        for (var i = 0; i < PlainSilos; i++) Silos[i] = silos[i].Result;
    }

    public async Task KillSiloAsync(int i) => await Silos[i]!.KillAsync();

    public async Task RestartSiloAsync(int i)
    {
        await Silos[i]!.KillAsync();
        Silos[i] = await SiloProcess.StartAsync(_work, Common(), SharedCores);
        History.Add(Silos[i]!);
    }

    /// <summary>kill -9 of every process, the API silo too.</summary>
    public async Task KillAllAsync() =>
        await Task.WhenAll(Silos.Append(Api).OfType<SiloProcess>().Select(s => s.KillAsync()));

    /// <summary>The cluster's members as the API silo sees them, and how many are active.</summary>
    public async Task<int> ActiveMembersAsync()
    {
        var json = await Http.GetFromJsonAsync<JsonElement>("v1/cluster");
        return json.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Active");
    }

    /// <summary>The last lines of every process, for a failed run.</summary>
    public string Logs() => string.Join("\n", History.Select(s => $"--- {s.SiloAddress}{(s.HasExited ? " (exited)" : "")}:\n{s.Digest}"));

    /// <summary>
    /// Every process's "fail:" log entries, one of each kind (category and first message line) with how often it came and
    /// the 8 lines after its first (message and exception): Orleans' own entries after a kill once hid the one that
    /// explained a 500.
    /// </summary>
    public string Failures() => string.Join("\n", History.Select(s =>
    {
        var lines = s.AllOutput.Split('\n');
        var kinds = lines.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("fail:", StringComparison.Ordinal))
            .GroupBy(x => x.l + "|" + Shorten(lines.ElementAtOrDefault(x.i + 1)))
            .Take(20)
            .Select(g => $"({g.Count()}x) " + string.Join("\n", lines.Skip(g.First().i).Take(9)));
        return $"--- {s.SiloAddress}{(s.HasExited ? " (exited)" : "")}:\n{string.Join("\n", kinds)}";
    }));

    // A message's first words, without the activation or message ids that make every entry distinct.
    private static string Shorten(string? line) => line is null ? "" : string.Join(' ', line.Trim().Split(' ').Take(4));

    public async ValueTask DisposeAsync()
    {
        foreach (var s in History) await s.DisposeAsync();
        Http?.Dispose();
        if (Redis is not null) await Redis.DisposeAsync();
        if (Postgres is not null) await Postgres.DisposeAsync();
        try { Directory.Delete(_work, true); } catch (IOException) { }
    }
}
