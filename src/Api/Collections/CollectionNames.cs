using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Grains.Interfaces.Aliases;

namespace RagCluster.Api.Collections;

/// <summary>Collections and aliases share one namespace a tenant: what creating or dropping a collection asks of the aliases.</summary>
internal static class CollectionNames
{
    /// <summary>A 409 when <paramref name="name"/> is an alias of the tenant (a new collection may not take it), else null.</summary>
    public static async Task<ProblemHttpResult?> AliasProblemAsync(IGrainFactory grains, string tenant, string name) =>
        await grains.GetGrain<IAliasesGrain>(tenant).Resolve(name) is { } target
            ? RagEndpoints.Problem(409, "Name taken by an alias", $"'{name}' is an alias of '{target}'; aliases and collections share one namespace")
            : null;

    /// <summary>The tenant's aliases that name <paramref name="collection"/>.</summary>
    public static async Task<string[]> AliasesOfAsync(IGrainFactory grains, string tenant, string collection) =>
        (await grains.GetGrain<IAliasesGrain>(tenant).List()).Where(a => a.Collection == collection).Select(a => a.Alias).ToArray();
}
