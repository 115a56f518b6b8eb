using System.Diagnostics;
using System.Net.Http.Json;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Bench.Rag;

/// <summary>
/// The shipped processes on loopback, as the README runs them: one silo is the embedded default (SQLite); more are the
/// API silo plus plain silos with state in a PostgreSQL server (fsync on) and membership in a redis-server, both
/// started here. The given model on every silo (none when the model directory is ""), one admin key with the per-key
/// rate limit lifted (the benchmarks measure throughput).
/// </summary>
public sealed class BenchCluster : IAsyncDisposable
{
    private readonly List<Process> _processes = [];
    private readonly string _data = Directory.CreateTempSubdirectory("rc-bench").FullName;
    private readonly string _serviceId = "bench-" + Guid.NewGuid().ToString("N")[..6];
    private (string BinDir, string ModelDir, int Silos, string[] Extra) _setup;
    private Func<string[]> _common = () => [];
    private PostgresServer? _postgres;
    private string? _storage;
    private bool _recipe; // PostgreSQL and Redis even for one silo (the scaling bench adds silos to it)
    private int _coresPerSilo; // > 0: the k-th silo started runs on cores k*n .. k*n+n-1 only (taskset)
    private int _started;
    private string _adminKey = "";

    public HttpClient Http { get; private set; } = null!;

    /// <summary>The silo processes: the API silo first, then the plain ones.</summary>
    public List<Process> Silos { get; } = [];

    /// <summary>Every silo's Prometheus endpoint: the API silo's, then each plain silo's on its health port.</summary>
    public List<string> MetricsUrls { get; private set; } = [];

    /// <summary>The PostgreSQL database the silos store state in; null on one silo (SQLite).</summary>
    public string? PostgresConnectionString => _postgres is null ? null : _storage;

    public static Task<BenchCluster> StartAsync(string binDir, string modelDir, int silos, params string[] extra) =>
        StartAsync(new BenchCluster { _setup = (binDir, modelDir, silos, extra) });

    /// <summary>
    /// The cluster recipe (PostgreSQL, Redis) from one API silo up, each silo held to <paramref name="coresPerSilo"/>
    /// cores of its own (the first on cores 0.., the next after them); more join through <see cref="AddApiSiloAsync"/>.
    /// </summary>
    public static Task<BenchCluster> StartRecipeAsync(string binDir, string modelDir, int coresPerSilo, params string[] extra) =>
        StartAsync(new BenchCluster { _setup = (binDir, modelDir, 1, extra), _recipe = true, _coresPerSilo = coresPerSilo });

    private static async Task<BenchCluster> StartAsync(BenchCluster c)
    {
        var (binDir, modelDir, silos, extra) = c._setup;
        try
        {
            await c.StartInnerAsync(binDir, modelDir, silos, extra);
            return c;
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }

    private async Task StartInnerAsync(string binDir, string modelDir, int silos, string[] extra)
    {
        var cluster = "bench-" + Guid.NewGuid().ToString("N")[..6];
        if (_storage is null && (silos > 1 || _recipe))
        {
            _postgres = await PostgresServer.StartAsync(durable: true);
            _storage = await _postgres.CreateDatabaseAsync("ragcluster");
        }
        _storage ??= $"sqlite:{_data}/ragcluster.db";
        var redisPort = FreePort();
        if (silos > 1 || _recipe)
            _processes.Add(Process.Start(new ProcessStartInfo("redis-server", ["--port", redisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                { RedirectStandardOutput = true })!);
        string[] Common() => ["--Silo:ClusterId", cluster, "--Silo:ServiceId", _serviceId, "--Silo:Storage", _storage, "--Silo:SiloPort", FreePort().ToString(),
            "--Silo:GatewayPort", "0", .. silos > 1 || _recipe ? new[] { "--Silo:Redis", $"127.0.0.1:{redisPort}" } : [],
            .. modelDir.Length > 0 ? new[] { "--Embedding:ModelDirectory", modelDir } : [], "--Logging:LogLevel:Default", "Warning", .. extra];
        _common = Common;
        var adminKey = _adminKey = "bench-admin-" + Guid.NewGuid().ToString("N");
        var (api, url) = await StartApiSiloAsync(silos);
        MetricsUrls = [url.TrimEnd('/') + "/metrics"];
        for (var i = 1; i < silos; i++)
        {
            var (silo, metrics) = StartPlainSilo();
            Silos.Add(silo);
            MetricsUrls.Add(metrics);
        }
        Http = new HttpClient { BaseAddress = new Uri(url.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(5) };
        Http.DefaultRequestHeaders.Add("X-Api-Key", adminKey);
        await Task.Delay(TimeSpan.FromSeconds(silos > 1 ? 5 : 1)); // let the silos join
    }

    private async Task<(Process Silo, string Url)> StartApiSiloAsync(int silos)
    {
        var api = Start(Path.Combine(_setup.BinDir, "RagCluster.Api.dll"), [.. _common(), "--urls", "http://127.0.0.1:0", "--Auth:BootstrapAdminKey", _adminKey,
            "--RateLimit:PermitsPerSecond", "1000000", "--RateLimit:Burst", "1000000"], SharedCores(silos), NextCores(), out var urlTask);
        _processes.Add(api);
        Silos.Add(api);
        return (api, await urlTask.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    /// <summary>One more API silo in the cluster (as a Deployment's replica is); returns a client for its door once it listens.</summary>
    public async Task<HttpClient> AddApiSiloAsync()
    {
        var (_, url) = await StartApiSiloAsync(1);
        MetricsUrls.Add(url.TrimEnd('/') + "/metrics");
        var http = new HttpClient { BaseAddress = new Uri(url.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Add("X-Api-Key", _adminKey);
        return http;
    }

    // The cores of the next silo to start, as taskset takes them; null when silos share the machine's cores.
    private string? NextCores()
    {
        if (_coresPerSilo <= 0) return null;
        var first = _started++ * _coresPerSilo;
        return $"{first}-{first + _coresPerSilo - 1}";
    }

    /// <summary>
    /// Waits until every shard of <paramref name="collection"/> has folded its log tail into a snapshot (shards do once
    /// quiet for 10 s), then until the silos are quiet: a snapshot's pages are transient memory a reading taken meanwhile
    /// would count. Returns the seconds waited.
    /// </summary>
    public async Task<double> WaitForSnapshotsAsync(string collection)
    {
        var settle = Stopwatch.StartNew();
        while ((await Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"v1/collections/{collection}/shards")).EnumerateArray()
               .Any(shard => shard.GetProperty("logEntries").GetInt32() > 0))
        {
            if (settle.Elapsed > TimeSpan.FromMinutes(5)) throw new TimeoutException("the shards did not snapshot their log tails within 5 minutes");
            await Task.Delay(1000);
        }
        await WaitUntilQuietAsync(TimeSpan.FromMinutes(1));
        return settle.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Waits until the processes started here (silos and Redis; PostgreSQL is not counted) together use under 30 %
    /// of a core for two seconds in a row, or <paramref name="limit"/> passes; returns the seconds waited. After a
    /// warm-up the runtime's tier-1 compiler still has a queue of hot methods, and with the runners holding every core
    /// it drained slowly: in 35 s profiles of three 3-silo ingests it took 3.6 to 9.2 % of the machine, and 2.2 % in one
    /// after this wait. A cluster that has been up a while has compiled them.
    /// </summary>
    public async Task<double> WaitUntilQuietAsync(TimeSpan limit)
    {
        var sw = Stopwatch.StartNew();
        TimeSpan Cpu() => _processes.Where(p => !p.HasExited).Aggregate(TimeSpan.Zero, (t, p) => { p.Refresh(); return t + p.TotalProcessorTime; });
        var quiet = 0;
        var last = Cpu();
        while (sw.Elapsed < limit && quiet < 2)
        {
            await Task.Delay(1000);
            var now = Cpu();
            quiet = (now - last).TotalSeconds < 0.3 ? quiet + 1 : 0;
            last = now;
        }
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// CPU time so far of the silos' inference runner threads (named "embedding-runner-N"; Linux truncates a thread's
    /// name to 15 characters in /proc), summed over the cluster's processes.
    /// </summary>
    public TimeSpan RunnerCpu()
    {
        long ticks = 0;
        foreach (var p in _processes.Where(p => !p.HasExited))
            foreach (var task in Directory.EnumerateDirectories($"/proc/{p.Id}/task"))
            {
                string stat;
                try { stat = File.ReadAllText(Path.Combine(task, "stat")); }
                catch (IOException) { continue; } // a thread-pool thread that ended meanwhile: skip it, not the process
                var name = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                if (!name.StartsWith("embedding-runne")) continue;
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(fields[11]) + long.Parse(fields[12]); // utime, stime
            }
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
    }

    // Each plain silo's /metrics is on its health port.
    private (Process Silo, string MetricsUrl) StartPlainSilo()
    {
        var health = FreePort();
        var silo = Start(Path.Combine(_setup.BinDir, "RagCluster.Silo.dll"), [.. _common(), "--Health:Port", health.ToString(), "--Health:ListenAddress", "127.0.0.1"],
            SharedCores(_setup.Silos), NextCores(), out _);
        _processes.Add(silo);
        return (silo, $"http://127.0.0.1:{health}/metrics");
    }

    /// <summary>kill -9 of the plain silo <see cref="Silos"/>[<paramref name="index"/>] (1 or more: 0 is the API silo).</summary>
    public void KillSilo(int index)
    {
        Silos[index].Kill(entireProcessTree: true);
        Silos[index].WaitForExit(10_000);
    }

    /// <summary>A new plain silo in place of the (killed) one at <paramref name="index"/>; returns once its health port answers.</summary>
    public async Task StartSiloAgainAsync(int index)
    {
        var (silo, metrics) = StartPlainSilo();
        (Silos[index], MetricsUrls[index]) = (silo, metrics);
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try { if ((await probe.GetAsync(metrics.Replace("/metrics", "/health/ready"))).IsSuccessStatusCode) return; }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            if (silo.HasExited || waited.Elapsed > TimeSpan.FromMinutes(2)) throw new InvalidOperationException("a restarted silo did not become ready");
            await Task.Delay(250);
        }
    }

    /// <summary>
    /// Kills every process (SIGKILL: no deactivation, so shards keep the log tail past their last snapshot) and starts
    /// the cluster again on the same store, under a new cluster id and the same service id.
    /// </summary>
    public async Task RestartAsync()
    {
        KillAll();
        Http.Dispose();
        await StartInnerAsync(_setup.BinDir, _setup.ModelDir, _setup.Silos, _setup.Extra);
    }

    private void KillAll()
    {
        _started = 0;
        foreach (var p in _processes) { try { p.Kill(true); p.WaitForExit(10_000); } catch (InvalidOperationException) { } }
        _processes.Clear();
        Silos.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        KillAll();
        Http?.Dispose();
        if (_postgres is not null) await _postgres.DisposeAsync();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }

    internal static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>
    /// Several silos on one machine's cores: the README's setting for that (thread-pool workers do not spin before they
    /// sleep). In a 35 s profile of a 3-silo ingest, spinning workers (sched_yield and the context switches it causes)
    /// took 7.6 % of the machine; with the spin off, their waiting (sched_yield and futex) took 2.2 %, and the ingest
    /// ran 13 % faster (48.8 chunks/s, against 42.9 to 43.5 in the three runs before it; 1,500 documents).
    /// </summary>
    private static Dictionary<string, string> SharedCores(int silos) =>
        silos > 1 ? new() { ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0" } : [];

    private static Process Start(string dll, string[] args, Dictionary<string, string> environment, string? cores, out Task<string> url)
    {
        var psi = new ProcessStartInfo(cores is null ? "dotnet" : "taskset") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        if (cores is not null) foreach (var a in new[] { "-c", cores, "dotnet" }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        // RAGCLUSTER_BENCH_LOGS: a folder each process's output goes to (a file a process, every line with the time it came).
        var logs = Environment.GetEnvironmentVariable("RAGCLUSTER_BENCH_LOGS") is { Length: > 0 } dir
            ? TextWriter.Synchronized(new StreamWriter(Path.Combine(Directory.CreateDirectory(dir).FullName, $"{Path.GetFileNameWithoutExtension(dll)}-{p.Id}.log")) { AutoFlush = true })
            : null;
        p.OutputDataReceived += (_, e) =>
        {
            const string marker = "RagCluster API listening on ";
            if (e.Data?.StartsWith(marker) == true) found.TrySetResult(e.Data[marker.Length..].Trim());
            if (e.Data is { } line) logs?.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {line}");
        };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        url = found.Task;
        return p;
    }
}
