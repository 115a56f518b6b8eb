using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RagCluster.Grains;
using RagCluster.Hosting;
using RagCluster.Hosting.Diagnostics;

// A silo process: an Orleans silo configured from appsettings.json, then environment variables (Silo__SiloPort=11112),
// then command-line switches (--Silo:SiloPort 11112).
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
try
{
    builder.Services.AddRagPipeline(builder.Configuration);
    builder.UseOrleans(silo => silo.AddRagClusterSilo(builder.Configuration));
    builder.Services.AddHostedService<RagCluster.SiloHost.HealthEndpoint>();
    // Metrics for /metrics on the health port, and OTLP traces when Otlp:Endpoint is set: the grain calls this silo
    // runs join the trace of the query that made them.
    builder.Services.AddRagTelemetry(builder.Configuration, "ragcluster-silo");
    using var host = builder.Build();
    var start = StartupSequence.Begin(host.Services);
    // Load the model before the silo joins: an explicit Embedding:ExecutionProvider=cuda that cannot run ends here.
    await StartupSequence.LoadModelAsync(host.Services, start);
    await host.RunAsync();
}
catch (Exception e) when (StartupErrors.IsConfigurationOrEnvironment(e))
{
    // Configuration mistakes, taken ports and unreachable stores get one clear line, not a stack trace.
    Console.Error.WriteLine($"ragcluster silo: {StartupErrors.Describe(e)}");
    return 2;
}
return Environment.ExitCode;
