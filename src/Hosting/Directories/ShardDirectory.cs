using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.GrainDirectory;
using Orleans.Metadata;
using Orleans.Runtime.GrainDirectory;
using RagCluster.Grains.Indexing;

namespace RagCluster.Hosting.Directories;

/// <summary>
/// On a cluster that runs on Redis, shard activations (primaries and copies) are registered in Redis, not in Orleans'
/// default directory. The default one keeps each entry on one silo: a kill -9 of that silo lost the entries of shard
/// copies on live silos, so a search's next call to them waited for Orleans to re-place and reload both copies
/// (1.8–2.3 s measured at 200,000 vectors, docs/faults.md). Redis keeps them, and a lookup that finds a dead silo's entry
/// drops it at once. Other grains keep the default directory: their calls never waited on it.
/// </summary>
public static class ShardDirectory
{
    /// <summary>The name of the Redis grain directory shard activations use.</summary>
    public const string Name = "shards";

    /// <summary>Registers the Redis directory, the resolver that gives it to shard grains, and the keeper of their entries.</summary>
    public static ISiloBuilder UseRedisShardDirectory(this ISiloBuilder silo, string redis)
    {
        silo.AddRedisGrainDirectory(Name, o =>
        {
            o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(redis);
            // With Redis down, a lookup fails at once (a 503 with Retry-After) instead of waiting in the client's
            // backlog: a search of a shard to activate waited 23 s for its 503 with the default policy.
            o.ConfigurationOptions.BacklogPolicy = StackExchange.Redis.BacklogPolicy.FailFast;
        });
        silo.Services.AddSingleton(sp => new MembershipCheckedDirectory(sp.GetRequiredKeyedService<IGrainDirectory>(Name),
            sp.GetRequiredService<IClusterMembershipService>()));
        silo.Services.AddSingleton<IGrainDirectoryResolver, ShardDirectoryResolver>();
        silo.Services.AddSingleton(sp => new ShardRegistrations(ShardGrainType(sp.GetRequiredService<GrainTypeResolver>()), sp,
            sp.GetRequiredService<IClusterMembershipService>(), sp.GetRequiredService<ILogger<ShardRegistrations>>()));
        silo.Services.AddSingleton<IConfigureGrainContextProvider>(sp => sp.GetRequiredService<ShardRegistrations>());
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ShardRegistrations>());
        return silo;
    }

    internal static GrainType ShardGrainType(GrainTypeResolver types) => types.GetGrainType(typeof(IndexShardGrain));
}

/// <summary>Gives the shard grain type the Redis directory named <see cref="ShardDirectory.Name"/> (checked against the membership); every other type the default.</summary>
internal sealed class ShardDirectoryResolver(GrainTypeResolver types, IServiceProvider services) : IGrainDirectoryResolver
{
    private readonly GrainType _shards = ShardDirectory.ShardGrainType(types);

    public bool TryResolveGrainDirectory(GrainType grainType, GrainProperties? properties, [NotNullWhen(true)] out IGrainDirectory? grainDirectory)
    {
        grainDirectory = grainType == _shards ? services.GetRequiredService<MembershipCheckedDirectory>() : null;
        return grainDirectory is not null;
    }
}
