using System.Diagnostics;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// A real `RagCluster.Silo` process (the shipped host) on loopback, or the front-end silo `RagCluster.Api`
/// (<see cref="StartApiAsync"/>), started by a test, stopped or killed (-9) by it.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _active = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    private SiloProcess(Process process, int siloPort)
    {
        _process = process;
        SiloPort = siloPort;
    }

    public int SiloPort { get; }
    /// <summary>The silo's address as Orleans prints it ("S127.0.0.1:port:generation").</summary>
    public string SiloAddress { get; private set; } = "";

    /// <summary>The key of a silo-targeted grain on this silo ("127.0.0.1:port@generation", SiloAddress.ToParsableString()).</summary>
    public string ParsableAddress
    {
        get
        {
            var a = SiloAddress.TrimStart('S');
            var last = a.LastIndexOf(':');
            return a[..last] + "@" + a[(last + 1)..];
        }
    }

    public string Output
    {
        get { lock (_output) return string.Join('\n', _output.TakeLast(80)); }
    }

    /// <summary>
    /// Everything the process printed, with a log event (category and id) that repeats shown three times and then
    /// counted: a failure report needs the start of the run, which the last lines of a silo stuck in timeouts lose.
    /// </summary>
    public string Digest
    {
        get
        {
            lock (_output)
            {
                var seen = new Dictionary<string, int>();
                var lines = new List<string>();
                var keep = true;
                foreach (var line in _output)
                {
                    var parts = line.Split(' ', 4);
                    // "05:35:52.912 warn: Orleans.Runtime.CallbackData[100157] ..." starts an event; other lines continue one.
                    if (parts.Length >= 3 && parts[1].EndsWith(':') && parts[0].Contains(':'))
                    {
                        var n = seen[parts[2]] = seen.GetValueOrDefault(parts[2]) + 1;
                        keep = n <= 3;
                    }
                    if (keep) lines.Add(line);
                }
                foreach (var (key, n) in seen.Where(e => e.Value > 3)) lines.Add($"({n - 3} more of {key})");
                return string.Join('\n', lines);
            }
        }
    }

    /// <summary>Everything the process printed.</summary>
    public string AllOutput
    {
        get { lock (_output) return string.Join('\n', _output); }
    }

    public static Task<SiloProcess> StartAsync(string workDir, IEnumerable<string> args, IDictionary<string, string>? environment = null) =>
        StartAsync("RagCluster.Silo.dll", workDir, [.. args, "--Silo:GatewayPort", Ports.Free().ToString()], environment);

    /// <summary>
    /// The front-end silo with the HTTP API on <paramref name="url"/> (no Orleans gateway, as the README runs it);
    /// returns once it is active in the cluster and listening.
    /// </summary>
    public static async Task<SiloProcess> StartApiAsync(string workDir, string url, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var api = await StartAsync("RagCluster.Api.dll", workDir, [.. args, "--Silo:GatewayPort", "0", "--urls", url], environment);
        try
        {
            await api._listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            await api.DisposeAsync(); // a start that failed leaves no process behind
            throw;
        }
        return api;
    }

    private static async Task<SiloProcess> StartAsync(string dll, string workDir, IEnumerable<string> args, IDictionary<string, string>? environment)
    {
        var siloPort = Ports.Free();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var a in args.Concat(["--Silo:SiloPort", siloPort.ToString()])) psi.ArgumentList.Add(a);
        var silo = new SiloProcess(new Process { StartInfo = psi, EnableRaisingEvents = true }, siloPort);
        silo._process.OutputDataReceived += (_, e) => silo.OnLine(e.Data);
        silo._process.ErrorDataReceived += (_, e) => silo.OnLine(e.Data);
        silo._process.Exited += (_, _) =>
        {
            var exited = new InvalidOperationException("silo process exited during start:\n" + silo.Output);
            silo._active.TrySetException(exited);
            silo._listening.TrySetException(exited);
        };
        silo._process.Start();
        silo._process.BeginOutputReadLine();
        silo._process.BeginErrorReadLine();
        try
        {
            silo.SiloAddress = await silo._active.Task.WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch
        {
            await silo.DisposeAsync(); // a start that failed or timed out leaves no process behind
            throw;
        }
        return silo;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The most resident memory the process has held so far (VmHWM), in bytes; 0 where /proc does not say.</summary>
    public long PeakResidentBytes
    {
        get
        {
            try
            {
                var line = File.ReadLines($"/proc/{_process.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
                return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
            }
            catch (IOException) { return 0; }
        }
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_output) _output.Add(line);
        if (line.StartsWith("RagCluster API listening on ", StringComparison.Ordinal)) _listening.TrySetResult();
        // "RagCluster silo S127.0.0.1:11111:123 active in cluster ..." (SiloAnnouncer) marks the end of start-up.
        const string marker = "RagCluster silo ";
        var at = line.IndexOf(marker, StringComparison.Ordinal);
        if (at >= 0 && line.Contains(" active in cluster ", StringComparison.Ordinal))
        {
            var rest = line[(at + marker.Length)..];
            _active.TrySetResult(rest[..rest.IndexOf(' ')]);
        }
    }

    /// <summary>SIGTERM, as a container runtime stops it: the host shuts down gracefully (grains deactivate and flush); SIGKILL after a minute.</summary>
    public async Task TerminateAsync()
    {
        if (_process.HasExited) return;
        Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();
        try { await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60)); }
        catch (TimeoutException) { await KillAsync(); }
    }

    /// <summary>SIGKILL: no hooks, no leaving the membership, nothing flushed.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }
}
