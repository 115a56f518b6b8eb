using RagCluster.Grains.Interfaces.Aliases;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Grains.Aliases;

/// <summary>Collections and aliases share one namespace a tenant: what a new collection (created or restored) asks of the aliases.</summary>
public static class AliasNamespace
{
    /// <summary>Refuses <paramref name="name"/> for a new collection when it is an alias of the tenant (409).</summary>
    public static async Task RequireFreeAsync(IGrainFactory grains, string tenant, string name)
    {
        if (await grains.GetGrain<IAliasesGrain>(tenant).Resolve(name) is { } target)
            throw new ConflictException("Name taken by an alias", $"'{name}' is an alias of '{target}'; aliases and collections share one namespace");
    }
}
