using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL server for the test run, started from the installed binaries into a temp directory on a
/// free loopback port (initdb refuses root, so as root it runs as the postgres user). Stopped at the end.
/// The benchmarks compile this file in too (bench/RagCluster.Bench.Rag), with <c>durable</c> on: fsync as in production.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _dir;
    private readonly bool _asPostgresUser;
    private string _options = "";

    private PostgresServer(string bin, string dir, int port, bool asPostgresUser)
    {
        _bin = bin;
        _dir = dir;
        Port = port;
        _asPostgresUser = asPostgresUser;
    }

    public int Port { get; }
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=rag;Database={database};Pooling=true;Maximum Pool Size=50;Timeout=10";

    /// <param name="maxConnections">The server's <c>max_connections</c>; the fault suite lowers it so the silos' pool budget is really used.</param>
    public static async Task<PostgresServer> StartAsync(bool durable = false, int maxConnections = 300)
    {
        var bin = FindBinaries() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries not found (looked for initdb in $RAGCLUSTER_PG_BIN, /usr/lib/postgresql/*/bin and PATH); install postgresql-15");
        // pg_ctl detaches the postmaster into a session of its own; scripts/test.sh finds a left one by its run's id here.
        var run = Environment.GetEnvironmentVariable("RAGCLUSTER_TEST_RUN") is { Length: > 0 } id ? id + "-" : "";
        var dir = Path.Combine(Path.GetTempPath(), "ragcluster-pg-" + run + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var asPostgres = Environment.UserName == "root";
        if (asPostgres) await RunAsync("chown", $"postgres {dir}", asPostgres: false);
        var port = FreePort();
        var server = new PostgresServer(bin, dir, port, asPostgres);
        await server.Run("initdb", $"-D {dir}/data -A trust -U rag -E UTF8 --no-sync");
        server._options = $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 {(durable ? "" : "-c fsync=off ")}-c max_connections={maxConnections}";
        await server.Run("pg_ctl", $"-D {dir}/data -l {dir}/log -w -t 60 -o \"{server._options}\" start");
        return server;
    }

    /// <summary>
    /// A clean shutdown (<c>pg_ctl stop -m fast</c>: every session is disconnected, as in a planned restart), then,
    /// after <paramref name="down"/>, a start with the same data, port and settings.
    /// </summary>
    public async Task RestartAsync(TimeSpan down)
    {
        await StopAsync();
        await Task.Delay(down);
        await StartAgainAsync();
    }

    /// <summary>A clean shutdown (<c>pg_ctl stop -m fast</c>); returns when the server is down.</summary>
    public Task StopAsync() => Run("pg_ctl", $"-D {_dir}/data -m fast -w -t 60 stop");

    /// <summary>Starts the stopped server again with the same data, port and settings; returns when it accepts connections.</summary>
    public Task StartAgainAsync() => Run("pg_ctl", $"-D {_dir}/data -l {_dir}/log -w -t 60 -o \"{_options}\" start");

    public async Task<string> CreateDatabaseAsync(string name)
    {
        // Unpooled: a pooled idle connection to an earlier server on the same port would still hold that server's "terminating
        // connection due to administrator command" (a fast stop) for the first command here: the likely cause of one 57P01
        // here, while the new server itself was still running.
        await using var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString()) { Pooling = false }.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", c);
        await cmd.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    private static string? FindBinaries()
    {
        var candidates = new List<string?> { Environment.GetEnvironmentVariable("RAGCLUSTER_PG_BIN") };
        if (Directory.Exists("/usr/lib/postgresql"))
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d).Select(d => Path.Combine(d, "bin")));
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'));
        return candidates.FirstOrDefault(d => !string.IsNullOrEmpty(d) && File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")));
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private Task Run(string tool, string args) => RunAsync(Path.Combine(_bin, tool), args, _asPostgresUser);

    private static async Task RunAsync(string file, string args, bool asPostgres)
    {
        var psi = asPostgres
            ? new ProcessStartInfo("runuser", $"-u postgres -- {file} {args}")
            : new ProcessStartInfo(file, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(file)} failed ({p.ExitCode}): {await stderr}{await stdout}");
    }

    public async ValueTask DisposeAsync()
    {
        try { await Run("pg_ctl", $"-D {_dir}/data -m immediate -w stop"); }
        catch { /* already gone */ }
        try { Directory.Delete(_dir, recursive: true); } catch { /* best effort */ }
    }
}
