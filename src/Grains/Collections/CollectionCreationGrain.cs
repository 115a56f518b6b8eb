using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Collections;

/// <summary>
/// Creating a collection (<see cref="ICollectionCreationGrain"/>): the checks and defaults every door's creation gets,
/// then the tenant's admission, the collection grain's creation (which refuses a name that exists) and the tenant's
/// list, in that order. An admission whose creation failed lapses within a minute.
/// </summary>
[StatelessWorker]
public sealed class CollectionCreationGrain(IOptions<CollectionDefaults> defaults, IClusterMembershipService membership) : Grain, ICollectionCreationGrain
{
    public async Task<CollectionSettings> Create(NewCollection collection)
    {
        var key = this.GetPrimaryKeyString();
        var (tenant, name) = TenantScope.Split(key);
        if (CopiesProblem(collection.ReplicationFactor, membership) is { } tooMany) throw tooMany;
        await Aliases.AliasNamespace.RequireFreeAsync(GrainFactory, tenant, name);
        var tenantGrain = GrainFactory.GetGrain<ITenantGrain>(tenant);
        await tenantGrain.AdmitCollection(name);
        var created = await GrainFactory.GetGrain<ICollectionGrain>(key).Create(Settings(collection));
        await tenantGrain.AddCollection(name);
        return created;
    }

    // The defaults are stored as null where null means the default, so the stored settings say what was chosen.
    private CollectionSettings Settings(NewCollection c) =>
        new(c.ShardCount ?? defaults.Value.ShardCount, c.ChunkMaxTokens ?? defaults.Value.ChunkMaxTokens, c.ChunkOverlapTokens ?? defaults.Value.ChunkOverlapTokens)
        {
            Dimensions = c.Dimensions, Quantization = c.Quantization, ReplicationFactor = c.ReplicationFactor ?? 1, Fields = c.Fields is { Count: > 0 } fields ? fields : null,
            AccessField = string.IsNullOrEmpty(c.AccessField) ? null : c.AccessField, IndexKind = c.IndexKind is "hnsw" ? null : c.IndexKind,
            Distance = c.Distance is "cosine" ? null : c.Distance, Language = c.Language is "english" ? null : c.Language,
            GraphLinks = c.GraphLinks is { Length: > 0 } links ? links : null,
        };

    /// <summary>
    /// The copies asked for against the active silos (a creation's, and a reconfiguration's that changes them): a copy a
    /// silo, since more copies than silos would put two of one shard on one silo. This silo's own view of the membership,
    /// not the membership table: reading the table failed while Redis came back empty after a restart (the fault suite).
    /// </summary>
    public static InvalidRequestException? CopiesProblem(int? replicationFactor, IClusterMembershipService membership)
    {
        if (replicationFactor is not { } wanted) return null;
        if (wanted < 1) return new("Invalid replicationFactor", "replicationFactor must be at least 1");
        var silos = membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
        return wanted > silos ? new("Invalid replicationFactor", $"replicationFactor {wanted} is more than the {silos} active silo(s): each copy of a shard needs a silo of its own") : null;
    }
}
