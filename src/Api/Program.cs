using RagCluster.Api;
using RagCluster.Hosting;

// The front-end silo: see ApiHost. Standard ASP.NET Core configuration: appsettings.json, env vars (Silo__Storage), --urls, --Silo:SiloPort.
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
    var host = ApiHost.Build(args);
    var embeddingStatus = await host.StartAsync();
    await host.AnnounceBootstrapKeyAsync();
    Console.WriteLine(embeddingStatus);
    Console.WriteLine($"State in {host.App.Services.GetRequiredService<RagCluster.Storage.StoreLocation>().Description}");
    foreach (var url in host.App.Urls) Console.WriteLine($"RagCluster API listening on {url}");
    await host.App.WaitForShutdownAsync();
    return Environment.ExitCode;
}
