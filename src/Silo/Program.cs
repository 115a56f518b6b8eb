using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RagCluster.Grains;
using RagCluster.Grains.Diagnostics;
using RagCluster.Runtime.Hosting;

// A silo process: configuration from appsettings.json, then environment variables (Silo__SiloPort=11112),
// then command-line switches (--Silo:SiloPort 11112). Exit code 3 means the cluster declared it dead.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
try
{
    builder.Services.AddRagPipeline(builder.Configuration);
    builder.Services.AddRagClusterSilo(builder.Configuration, grains => grains.AddAssembly(typeof(PingGrain).Assembly));
    builder.Services.AddHostedService<RagCluster.SiloHost.HealthEndpoint>();
    using var host = builder.Build();
    await host.RunAsync();
}
catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or IOException or System.Net.Sockets.SocketException)
{
    // Configuration mistakes and taken ports get one clear line, not a stack trace.
    Console.Error.WriteLine($"ragcluster silo: {e.GetBaseException().Message}");
    return 2;
}
return Environment.ExitCode;
