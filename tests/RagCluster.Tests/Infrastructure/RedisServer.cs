using System.Diagnostics;
using System.Net.Sockets;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// A real Redis (Debian's redis-server) on a free loopback port, no persistence, for Orleans' Redis membership.
/// Killed at the end of the test run.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process _process;

    private RedisServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var port = Ports.Free();
        return new RedisServer(await StartProcessAsync(port), port);
    }

    /// <summary>
    /// Kills the server (SIGKILL) and, after <paramref name="down"/>, starts a new one on the same port. Like the
    /// README's Redis it keeps nothing on disk, so it comes back empty: the membership table is gone.
    /// </summary>
    public async Task RestartAsync(TimeSpan down)
    {
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync();
        await Task.Delay(down);
        _process = await StartProcessAsync(Port);
    }

    /// <summary>The keys that match <paramref name="pattern"/> (Redis glob), read with SCAN.</summary>
    public async Task<HashSet<string>> KeysAsync(string pattern)
    {
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(ConnectionString);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var key in redis.GetServer(ConnectionString).KeysAsync(pattern: pattern)) keys.Add(key.ToString());
        return keys;
    }

    private static async Task<Process> StartProcessAsync(int port)
    {
        var binary = File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server";
        var psi = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes" })
            psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server not found; scripts/setup.sh installs Debian's redis-server", e);
        }
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return process;
            }
            catch (SocketException)
            {
                if (process.HasExited) break;
                await Task.Delay(50);
            }
        }
        throw new InvalidOperationException($"redis-server did not start on port {port}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync();
    }
}

/// <summary>One Redis for every test that needs one (xunit collection fixture).</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private RedisServer? _server;
    public RedisServer Server => _server ?? throw new InvalidOperationException("Redis not started");
    public async Task InitializeAsync() => _server = await RedisServer.StartAsync();
    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}

public static class Ports
{
    /// <summary>A port free right now on loopback (Orleans silos need a fixed port to advertise).</summary>
    public static int Free()
    {
        using var l = new TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }
}
