using RagCluster.Api;
using RagCluster.Api.Auth;
using RagCluster.Grains;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding;
using RagCluster.Hosting;
using RagCluster.Hosting.Diagnostics;

// The front-end silo: a full silo (it hosts grains) plus the public HTTP API on its own port.
// Standard ASP.NET Core configuration: appsettings.json, env vars (Silo__Storage), --urls, --Silo:SiloPort.
try
{
    return await RunAsync(args);
}
catch (Exception e) when (StartupErrors.IsConfigurationOrEnvironment(e))
{
    // Configuration mistakes, taken ports and unreachable stores get one clear line, not a stack trace.
    Console.Error.WriteLine($"ragcluster api: {StartupErrors.Describe(e)}");
    return 2;
}

static async Task<int> RunAsync(string[] args)
{
// appsettings.json is read from beside the binary, whichever folder the process runs in (./data is relative to that).
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
// --Storage:Path DIR (env Storage__Path) picks the embedded SQLite folder without spelling out a Silo:Storage string.
if (builder.Configuration["Storage:Path"] is { Length: > 0 } dataPath)
    builder.Configuration["Silo:Storage"] = "sqlite:" + Path.Combine(Path.GetFullPath(dataPath), "ragcluster.db");
builder.Services.AddRagPipeline(builder.Configuration);
builder.UseOrleans(silo => silo.AddRagClusterSilo(builder.Configuration));
var api = builder.Services.AddRagApi(builder.Configuration);
// /metrics (Prometheus) and, with Otlp:Endpoint set, OTLP traces: see RagTelemetry.
builder.Services.AddRagTelemetry(builder.Configuration, "ragcluster-api");

var app = builder.Build();
var start = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("RagCluster.Start");
start.StartStep("runtime, configuration and host built", TimeSpan.FromSeconds(StartupSteps.SinceProcessStart));
StartupErrors.ValidateSettings(app.Services);
// The model loads beside the silo's start (a second of CPU: the restart's critical path is the silo and its shards'
// loads); an explicit Embedding:ExecutionProvider=cuda that cannot run still ends start-up in one line, below.
// On a thread of its own: a pool thread held for seconds can starve the grains' scheduler on 2 cores.
var loadingModel = Task.Factory.StartNew(() =>
{
    var loading = System.Diagnostics.Stopwatch.StartNew();
    var status = app.Services.GetRequiredService<EmbeddingService>().Status;
    start.StartStep("model loaded", loading.Elapsed);
    return status;
}, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
var building = System.Diagnostics.Stopwatch.StartNew();
app.UseRagApi(api);
start.StartStep("HTTP pipeline and routes built", building.Elapsed);

var starting = System.Diagnostics.Stopwatch.StartNew();
await app.StartAsync();
start.StartStep("silo and HTTP started, listening", starting.Elapsed);
string embeddingStatus;
try { embeddingStatus = await loadingModel; }
catch
{
    await app.StopAsync();
    throw;
}
await BootstrapKey.AnnounceAsync(app.Services, api.Auth);
Console.WriteLine(embeddingStatus);
Console.WriteLine($"State in {app.Services.GetRequiredService<RagCluster.Storage.StoreLocation>().Description}");
foreach (var url in app.Urls) Console.WriteLine($"RagCluster API listening on {url}");
await app.WaitForShutdownAsync();
return Environment.ExitCode;
}
