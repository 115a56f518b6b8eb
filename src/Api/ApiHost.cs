using RagCluster.Api.Auth;
using RagCluster.Grains;
using RagCluster.Hosting;
using RagCluster.Hosting.Diagnostics;

namespace RagCluster.Api;

/// <summary>
/// The API silo as one host: a full silo (it hosts grains) plus the public HTTP API on its own port. The API process
/// (Program.cs) runs it; the CLI's embedded mode runs the same host in its own process, so every operation's rules
/// apply to the CLI as they do over HTTP (one door, issue 83).
/// </summary>
public sealed class ApiHost(WebApplication app, RagApiSettings settings)
{
    public WebApplication App => app;

    /// <summary>
    /// Standard ASP.NET Core configuration: appsettings.json beside the binary, env vars (Silo__Storage), --urls,
    /// --Silo:SiloPort; <paramref name="overrides"/> (a host that embeds the API) win over all of them.
    /// </summary>
    public static ApiHost Build(string[] args, IReadOnlyDictionary<string, string?>? overrides = null, Action<WebApplicationBuilder>? configure = null)
    {
        // appsettings.json is read from beside the binary, whichever folder the process runs in (./data is relative to that).
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (overrides is not null) builder.Configuration.AddInMemoryCollection(overrides);
        // --Storage:Path DIR (env Storage__Path) picks the embedded SQLite folder without spelling out a Silo:Storage string.
        if (builder.Configuration["Storage:Path"] is { Length: > 0 } dataPath)
            builder.Configuration["Silo:Storage"] = "sqlite:" + Path.Combine(Path.GetFullPath(dataPath), "ragcluster.db");
        configure?.Invoke(builder);
        builder.Services.AddRagPipeline(builder.Configuration);
        builder.UseOrleans(silo => silo.AddRagClusterSilo(builder.Configuration));
        var settings = builder.Services.AddRagApi(builder.Configuration);
        // /metrics (Prometheus) and, with Otlp:Endpoint set, OTLP traces: see RagTelemetry.
        builder.Services.AddRagTelemetry(builder.Configuration, "ragcluster-api");
        return new ApiHost(builder.Build(), settings);
    }

    /// <summary>
    /// The API silo a tool runs inside its own process (the CLI's embedded default): the only silo of cluster "dev" on
    /// <paramref name="dataDir"/>'s SQLite store, on loopback ports of its own, with <paramref name="operatorKey"/> as its
    /// operator key (kept in memory only) and no per-key rate limit (one caller, paced by Retry-After).
    /// </summary>
    /// <param name="dataDir">The store's folder (created when missing).</param>
    /// <param name="model">A built-in model's name, "none" or a model folder (null: the configured model).</param>
    /// <param name="operatorKey">The key the tool calls the API with.</param>
    /// <param name="logging">Where the host logs (a tool's stdout is its output).</param>
    public static ApiHost BuildEmbedded(string dataDir, string? model, string operatorKey, Action<ILoggingBuilder> logging)
    {
        Directory.CreateDirectory(dataDir);
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Path"] = dataDir,
            ["Urls"] = "http://127.0.0.1:0", // a port of its own, beside any API silo on this machine
            ["Silo:ClusterId"] = "dev",
            ["Silo:Clustering"] = "localhost",
            ["Silo:ListenAddress"] = "127.0.0.1",
            ["Silo:SiloPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Silo:GatewayPort"] = "0",
            ["Silo:Roles"] = StartupSequence.LoneSiloRoles, // the only silo: it embeds, whatever the environment says
            ["Auth:BootstrapAdminKey"] = operatorKey,
            ["RateLimit:PermitsPerSecond"] = "1000000",
            ["RateLimit:Burst"] = "1000000",
            ["Logging:LogLevel:Default"] = "Error",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Error",
            ["Logging:LogLevel:Orleans"] = "Error",
            ["Logging:LogLevel:Polly"] = "Error",
        };
        // A model named here wins over Embedding__* in the environment.
        if (model is { Length: > 0 })
            foreach (var (key, value) in StartupSequence.ModelSettings(model)) settings[key] = value;
        return Build([], settings, builder => logging(builder.Logging));
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Starts the silo and the HTTP API with the model loading beside them; returns the embedding status line.</summary>
    public async Task<string> StartAsync(CancellationToken ct = default)
    {
        var start = StartupSequence.Begin(app.Services);
        // The model loads beside the silo's start (a second of CPU: the restart's critical path is the silo and its shards'
        // loads); an explicit Embedding:ExecutionProvider=cuda that cannot run still ends start-up in one line.
        var loadingModel = StartupSequence.LoadModelAsync(app.Services, start);
        var building = System.Diagnostics.Stopwatch.StartNew();
        app.UseRagApi(settings);
        start.Step("HTTP pipeline and routes built", building.Elapsed);

        var starting = System.Diagnostics.Stopwatch.StartNew();
        await app.StartAsync(ct);
        start.Step("silo and HTTP started, listening", starting.Elapsed);
        try
        {
            return await loadingModel;
        }
        catch
        {
            await app.StopAsync();
            throw;
        }
    }

    /// <summary>On a new store with no configured bootstrap key: the operator key, issued and printed once.</summary>
    public Task AnnounceBootstrapKeyAsync() => BootstrapKey.AnnounceAsync(app.Services, settings.Auth);
}
