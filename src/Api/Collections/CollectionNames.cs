using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Grains.Interfaces.Aliases;

namespace RagCluster.Api.Collections;

/// <summary>Collections and aliases share one namespace a tenant: what restoring into a new collection asks of the aliases (a creation and a deletion ask it in their grains).</summary>
internal static class CollectionNames
{
    /// <summary>A 409 when <paramref name="name"/> is an alias of the tenant (a new collection may not take it), else null.</summary>
    public static async Task<ProblemHttpResult?> AliasProblemAsync(IGrainFactory grains, string tenant, string name) =>
        await grains.GetGrain<IAliasesGrain>(tenant).Resolve(name) is { } target
            ? RagEndpoints.Problem(409, "Name taken by an alias", $"'{name}' is an alias of '{target}'; aliases and collections share one namespace")
            : null;
}
