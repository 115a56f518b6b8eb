using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace RagCluster.Hosting.Diagnostics;

/// <summary>
/// Metrics and traces through OpenTelemetry. Metrics: our meters ("RagCluster.*"), Orleans' ("Microsoft.Orleans"),
/// ASP.NET Core's and the .NET runtime's, for the Prometheus scraping endpoint (/metrics). Traces (when
/// Otlp:Endpoint is set): ASP.NET Core requests, our query spans and Orleans' grain call spans, which Orleans'
/// activity propagation links across silos, so one query is one trace.
/// </summary>
public static class RagTelemetry
{
    public static readonly string[] Meters =
    [
        "RagCluster.*", "Microsoft.Orleans", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.RateLimiting", "System.Runtime",
    ];

    /// <summary>The most label sets a metric keeps apart; more share OpenTelemetry's overflow series.</summary>
    private const int MetricPointsPerStream = 128;

    /// <summary>
    /// The widest metrics, a few hundred label sets each: our grain calls (type, method, outcome) and activations (type,
    /// silo), and ASP.NET Core's requests (route, method, status).
    /// </summary>
    private const int WidePointsPerStream = 512;

    private static bool IsWide(Instrument instrument) =>
        instrument.Name.StartsWith("rc_grain_", StringComparison.Ordinal) || instrument.Name == "http.server.request.duration";

    public static IServiceCollection AddRagTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        var otel = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(configuration["Otlp:ServiceName"] is { Length: > 0 } name ? name : serviceName))
            // A scrape sees the values of that moment (the exporter would otherwise serve a copy up to 300 ms old).
            // Each stream allocates room for its cardinality limit up front: OpenTelemetry's default of 2,000 points held
            // 36 MB across a silo's 251 streams (a heap dump, issue 59), 512 for all of them still 19.8 MB (issue 84).
            // Only a few need that many; the rest (the runtime's, Kestrel's, Orleans' by grain type at most) fit 128.
            // A heap dump of an idle API still finds 92 streams at OpenTelemetry's 2,000 (13 MB), which this view does not reach.
            .WithMetrics(m => m.AddMeter(Meters).AddView(i => new MetricStreamConfiguration { CardinalityLimit = IsWide(i) ? WidePointsPerStream : MetricPointsPerStream })
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        if (configuration["Otlp:Endpoint"] is { Length: > 0 } endpoint)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new ArgumentException($"Otlp:Endpoint '{endpoint}' is not an http(s) URL");
            otel.WithTracing(t => t
                .AddSource(RagTracing.QuerySourceName, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                // Probes and scrapes would bury the queries.
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsHousekeeping(http.Request.Path))
                .AddOtlpExporter(o =>
                {
                    // grpc (default, port 4317) or http (OTLP/HTTP protobuf: the endpoint is the full .../v1/traces URL).
                    o.Protocol = configuration["Otlp:Protocol"] == "http" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                    o.Endpoint = uri;
                    o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = configuration.GetValue("Otlp:ExportDelayMs", 5000);
                }));
        }
        return services;
    }

    private static bool IsHousekeeping(PathString path) => path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics");
}
