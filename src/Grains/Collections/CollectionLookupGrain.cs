using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Aliases;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Resilience;

namespace RagCluster.Grains.Collections;

/// <summary>Names to collections (<see cref="ICollectionLookupGrain"/>), with this silo's last answers standing in (<see cref="LastKnown{TKey, TValue}"/>).</summary>
[Reentrant, StatelessWorker(1)]
public sealed partial class CollectionLookupGrain(LastKnown<string, CollectionLookupGrain.Exists> known, LastKnown<string, CollectionLookupGrain.AliasOf> aliases,
    ILogger<CollectionLookupGrain> log) : Grain, ICollectionLookupGrain
{
    /// <summary>The answer as remembered (a type of its own, so no other boolean shares its last-known answers).</summary>
    public readonly record struct Exists(bool Value);

    /// <summary>The collection an alias names, as remembered (null: the name is no alias).</summary>
    public readonly record struct AliasOf(string? Collection);

    private string Tenant => this.GetPrimaryKeyString();

    public async Task<string?> Resolve(string name, CancellationToken cancellationToken = default)
    {
        if (await ExistsAsync(name, cancellationToken)) return name;
        return await AliasTargetAsync(name, cancellationToken) is { } target && await ExistsAsync(target, cancellationToken) ? target : null;
    }

    private async Task<bool> ExistsAsync(string name, CancellationToken ct)
    {
        var key = TenantScope.CollectionKey(Tenant, name);
        var grain = GrainFactory.GetGrain<ICollectionGrain>(key);
        var (answer, fresh) = await known.GetAsync(grain.GetGrainId(), key, async () => new Exists(await grain.Exists()), ct);
        if (!fresh) StoodIn(log, key);
        return answer.Value;
    }

    private async Task<string?> AliasTargetAsync(string name, CancellationToken ct)
    {
        var grain = GrainFactory.GetGrain<IAliasesGrain>(Tenant);
        var (answer, fresh) = await aliases.GetAsync(grain.GetGrainId(), $"{Tenant}.{name}", async () => new AliasOf(await grain.Resolve(name)), ct);
        if (!fresh) StoodIn(log, $"{Tenant} alias {name}");
        return answer.Collection;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Name} did not answer in time: its answer as last known stood in")]
    private static partial void StoodIn(ILogger log, string name);
}
