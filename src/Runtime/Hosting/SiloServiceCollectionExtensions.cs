using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RagCluster.Runtime.Activation;

namespace RagCluster.Runtime.Hosting;

public static class SiloServiceCollectionExtensions
{
    /// <summary>
    /// Runs a silo inside this host: options from the "Silo" configuration section, grains from the given
    /// assemblies, <see cref="IGrainFactory"/> for host code. The silo joins on start and leaves on stop.
    /// </summary>
    public static IServiceCollection AddRagClusterSilo(this IServiceCollection services, IConfiguration configuration,
        Action<GrainTypeRegistry>? grains = null, Action<SiloOptions>? configure = null)
    {
        var options = new SiloOptions();
        configuration.GetSection("Silo").Bind(options);
        configure?.Invoke(options);
        var registry = new GrainTypeRegistry();
        grains?.Invoke(registry);
        services.TryAddSingleton(options);
        services.TryAddSingleton(sp => new Silo(options, registry, sp, sp.GetRequiredService<ILoggerFactory>()));
        services.TryAddSingleton<IGrainFactory>(sp => sp.GetRequiredService<Silo>());
        services.AddHostedService<SiloHostedService>();
        return services;
    }
}

/// <summary>Starts the silo with the host and leaves the cluster gracefully when the host stops.</summary>
internal sealed class SiloHostedService(Silo silo, IHostApplicationLifetime lifetime, ILogger<SiloHostedService> log) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        silo.Terminated += () =>
        {
            log.LogCritical("Silo {Silo} was declared dead by the cluster; stopping the host", silo.SiloId);
            Environment.ExitCode = 3;
            lifetime.StopApplication();
        };
        await silo.StartAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => silo.StopAsync(cancellationToken);
}
