using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RagCluster.Hosting;

namespace RagCluster.SiloHost;

/// <summary>
/// Health:Port (e.g. 8081) serves /health/live and /health/ready over plain HTTP/1.1 for orchestrator probes
/// (an Orleans silo port speaks Orleans' own protocol, which kubelet probes do not) and /metrics for Prometheus,
/// from this silo's OpenTelemetry meter provider. Off (0) by default.
/// </summary>
public sealed class HealthEndpoint(IConfiguration configuration, IServiceProvider services, ILogger<HealthEndpoint> log) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var port = configuration.GetValue("Health:Port", 0);
        if (port <= 0) return;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(System.Net.IPAddress.Parse(configuration["Health:ListenAddress"] ?? "0.0.0.0"), port);
        });
        var app = builder.Build();
        app.MapGet("/health/live", () => Results.Ok(new { status = "live" }));
        app.MapGet("/health/ready", async () =>
        {
            var r = await services.GetRequiredService<Readiness>().CheckAsync();
            return r.Ready
                ? Results.Ok(new { status = "ready", silo = r.SiloId, checks = r.Checks, detail = r.Detail })
                : Results.Problem(statusCode: 503, title: "Silo not ready", detail: r.Detail, extensions: new Dictionary<string, object?> { ["checks"] = r.Checks });
        });
        // The scrape endpoint reads the silo host's meter provider, not this small app's (which has none).
        app.UseOpenTelemetryPrometheusScrapingEndpoint(services.GetRequiredService<OpenTelemetry.Metrics.MeterProvider>(), null, "/metrics", null, null);
        await app.StartAsync(cancellationToken);
        _app = app;
        log.HealthProbesListening(configuration["Health:ListenAddress"] ?? "0.0.0.0", port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null) await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }
}
