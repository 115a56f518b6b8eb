using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Resilience;

namespace RagCluster.Api.Collections;

/// <summary>
/// Whether a collection exists, asked of its grain on every request under /v1/collections/{collection}; while that
/// grain does not answer (its silo died a moment ago), this silo's last answer stands in (<see cref="LastKnown{TKey, TValue}"/>),
/// so a search does not wait for the cluster to declare the silo dead.
/// </summary>
public sealed partial class CollectionExistence(IGrainFactory grains, LastKnown<string, CollectionExistence.Exists> known,
    LastKnown<string, CollectionExistence.AliasOf> aliases, ILogger<CollectionExistence> log)
{
    /// <summary>The answer as remembered (a type of its own, so no other boolean shares its last-known answers).</summary>
    public readonly record struct Exists(bool Value);

    /// <summary>The collection an alias names, as remembered (null: the name is no alias).</summary>
    public readonly record struct AliasOf(string? Collection);

    /// <summary>The collection <paramref name="name"/> is an alias of in <paramref name="tenant"/>, or null; asked of the tenant's aliases grain, its last answer standing in as for existence.</summary>
    public async Task<string?> AliasTargetAsync(string tenant, string name, CancellationToken ct = default)
    {
        var grain = grains.GetGrain<Grains.Interfaces.Aliases.IAliasesGrain>(tenant);
        var (answer, fresh) = await aliases.GetAsync(grain.GetGrainId(), $"{tenant}.{name}", async () => new AliasOf(await grain.Resolve(name)), ct);
        if (!fresh) StoodIn(log, $"{tenant} alias {name}");
        return answer.Collection;
    }

    public async Task<bool> ExistsAsync(string key, CancellationToken ct = default)
    {
        var grain = grains.GetGrain<ICollectionGrain>(key);
        var (answer, fresh) = await known.GetAsync(grain.GetGrainId(), key, async () => new Exists(await grain.Exists()), ct);
        if (!fresh) StoodIn(log, key);
        return answer.Value;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Collection {Collection} did not answer in time: its existence as last known stood in")]
    private static partial void StoodIn(ILogger log, string collection);
}
