namespace RagCluster.Grains.Interfaces.Aliases;

/// <summary>
/// Key: tenant name. The tenant's collection aliases: names that stand for one of its collections on every route, so
/// clients move from one collection to another (a re-embedded copy) in one step. An alias never names another tenant's
/// collection, another alias, or a name a collection has.
/// </summary>
[Alias("rc.IAliasesGrain")]
public interface IAliasesGrain : IGrainWithStringKey
{
    /// <summary>Creates the alias or moves it to <paramref name="collection"/>, in one stored change; the collection must exist.</summary>
    Task<CollectionAlias> Set(string alias, string collection);
    /// <summary>Removes the alias; null when there was none.</summary>
    Task<CollectionAlias?> Remove(string alias);
    /// <summary>The collection the alias names now, or null when the name is no alias.</summary>
    [Orleans.Concurrency.ReadOnly] Task<string?> Resolve(string alias);
    /// <summary>Every alias of the tenant, by name.</summary>
    [Orleans.Concurrency.ReadOnly] Task<CollectionAlias[]> List();
}
