using RagCluster.Api.Auth;
using RagCluster.Grains;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding;
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

    /// <summary>Starts the silo and the HTTP API with the model loading beside them; returns the embedding status line.</summary>
    public async Task<string> StartAsync()
    {
        var start = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("RagCluster.Start");
        start.StartStep("runtime, configuration and host built", TimeSpan.FromSeconds(StartupSteps.SinceProcessStart));
        StartupErrors.ValidateSettings(app.Services);
        // The model loads beside the silo's start (a second of CPU: the restart's critical path is the silo and its shards'
        // loads); an explicit Embedding:ExecutionProvider=cuda that cannot run still ends start-up in one line.
        // On a thread of its own: a pool thread held for seconds can starve the grains' scheduler on 2 cores.
        var loadingModel = Task.Factory.StartNew(() =>
        {
            var loading = System.Diagnostics.Stopwatch.StartNew();
            var status = app.Services.GetRequiredService<EmbeddingService>().Status;
            start.StartStep("model loaded", loading.Elapsed);
            return status;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var building = System.Diagnostics.Stopwatch.StartNew();
        app.UseRagApi(settings);
        start.StartStep("HTTP pipeline and routes built", building.Elapsed);

        var starting = System.Diagnostics.Stopwatch.StartNew();
        await app.StartAsync();
        start.StartStep("silo and HTTP started, listening", starting.Elapsed);
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
