using Scalar.AspNetCore;
using RagCluster.Api;
using RagCluster.Api.Admin;
using RagCluster.Api.Auditing;
using RagCluster.Api.Auth;
using RagCluster.Api.Limits;
using RagCluster.Api.OpenApi;
using RagCluster.Grains;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Interfaces;
using Orleans;
using Orleans.Runtime;
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
builder.Services.AddProblemDetails();
builder.Services.AddRagPipeline(builder.Configuration);
builder.UseOrleans(silo => silo.AddRagClusterSilo(builder.Configuration));

builder.Services.AddExceptionHandler<GrainExceptionHandler>();
var auth = builder.AddRagAuth();
builder.AddRagRateLimits();
var network = RagCluster.Api.Network.TrustedProxies.AddRagTrustedProxies(builder);
builder.Services.AddSingleton<AuditTrail>();
// Numbers are numbers: a typed contract (and the clients generated from it) has no "integer or string" fields.
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict);
builder.Services.AddRagOpenApi();
builder.Services.AddSingleton<RagCluster.Api.Dashboard.QueryLog>();
builder.Services.AddSingleton<RagCluster.Api.Dashboard.ClusterInspector>();
builder.Services.AddSingleton<RagCluster.Api.Dashboard.DashboardSampler>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<RagCluster.Api.Dashboard.DashboardSampler>());
builder.WebHost.ConfigureKestrel(k =>
{
    k.Limits.MaxRequestBodySize = RagEndpoints.MaxUploadBytes + 1024 * 1024;
    k.AddServerHeader = false; // do not advertise the server software
});
// No request runs longer than this (uploads and streamed answers included); the client gets 504.
builder.Services.AddRequestTimeouts(o => o.DefaultPolicy = new Microsoft.AspNetCore.Http.Timeouts.RequestTimeoutPolicy
{
    Timeout = TimeSpan.FromSeconds(builder.Configuration.GetValue("Api:RequestTimeoutSeconds", 120)),
    TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
});
builder.Services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(f => f.MultipartBodyLengthLimit = RagEndpoints.MaxUploadBytes);

// /metrics (Prometheus) and, with Otlp:Endpoint set, OTLP traces: see RagTelemetry.
builder.Services.AddRagTelemetry(builder.Configuration, "ragcluster-api");

var app = builder.Build();
StartupErrors.ValidateSettings(app.Services);
// First: the client address every later step sees (rate limits, key-check lockouts, audit) is the one a trusted proxy forwarded.
if (network.Any) app.UseForwardedHeaders();
// Load the model before anything starts: an explicit Embedding:ExecutionProvider=cuda that cannot run ends here in one line.
var embeddingStatus = app.Services.GetRequiredService<EmbeddingService>().Status;
app.Use(async (http, next) =>
{
    // Security headers on every response, problems included: set as the response starts, because the
    // exception handler clears headers when it turns an exception into a problem.
    http.Response.OnStarting(() =>
    {
        var h = http.Response.Headers;
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        h["Referrer-Policy"] = "no-referrer";
        // Orleans' dashboard sets inline styles and embeds its icon font as data: (scripts stay 'self'-only).
        // Scalar's reference page passes its configuration in one inline module script and styles itself inline; it
        // shows only the public API description, and still connects to nothing but this origin.
        h.ContentSecurityPolicy = http.Request.Path.StartsWithSegments(RagCluster.Api.Dashboard.OrleansDashboardSession.Path)
            ? "default-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; frame-ancestors 'none'"
            : http.Request.Path.StartsWithSegments(ApiDocument.ReferencePath)
                ? "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; frame-ancestors 'none'"
                : "default-src 'self'; frame-ancestors 'none'";
        h["Cross-Origin-Resource-Policy"] = "same-origin";
        return Task.CompletedTask;
    });
    await next();
});
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRouting();
app.Use(BodyLimit.Apply);
app.UseAuthentication();
app.UseRateLimiter();
app.Use(app.Services.GetRequiredService<AuditTrail>().Middleware);
app.UseAuthorization();
app.UseRequestTimeouts();

app.MapRagEndpoints();
app.MapAdminEndpoints();
RagCluster.Api.Dashboard.DashboardEndpoints.MapDashboardEndpoints(app);
RagCluster.Api.Dashboard.OrleansDashboardSession.MapOrleansDashboardPages(app);
RagCluster.Api.Web.WebAssets.MapWebAssets(app);
// A fixed path: the templated default answers unknown document names with a plain-text 404, not a problem.
app.MapOpenApi(ApiDocument.Path).AllowAnonymous();
// The interactive reference (Scalar, its script served from its package, no CDN), anonymous like the document it reads.
app.MapScalarApiReference(ApiDocument.ReferencePath, o => o.WithTitle("RagCluster API").WithOpenApiRoutePattern(ApiDocument.Path).DisableDefaultFonts()).AllowAnonymous();
// A scrape sees this silo's activations as of now, not as of the last background sample (up to 2 s old).
app.UseWhen(http => http.Request.Path == "/metrics", branch => branch.Use(async (http, next) =>
{
    try { await http.RequestServices.GetRequiredService<ActivationCounts>().ReadAsync(TimeSpan.FromMilliseconds(250)); }
    catch (Exception e) when (e is TimeoutException or OrleansException) { /* the last sample stands */ }
    await next();
}));
// GET only, like every read here (the exporter's own mapping takes any method).
var metricsEndpoint = app.MapPrometheusScrapingEndpoint("/metrics").WithMetadata(new Microsoft.AspNetCore.Routing.HttpMethodMetadata(["GET"]));
if (auth.AnonymousMetrics) metricsEndpoint.AllowAnonymous();
else metricsEndpoint.RequireAuthorization(AuthSetup.Operator);

await app.StartAsync();
await BootstrapKey.AnnounceAsync(app.Services, auth);
Console.WriteLine(embeddingStatus);
Console.WriteLine($"State in {app.Services.GetRequiredService<RagCluster.Storage.StoreLocation>().Description}");
foreach (var url in app.Urls) Console.WriteLine($"RagCluster API listening on {url}");
await app.WaitForShutdownAsync();
return Environment.ExitCode;
}
