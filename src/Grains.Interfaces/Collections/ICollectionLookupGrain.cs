namespace RagCluster.Grains.Interfaces.Collections;

/// <summary>
/// Key: the tenant. Which collection a name means, asked on every request that names one: the collection of that name
/// when it exists, else the one it is an alias of (a collection's name wins, so the common case costs no alias
/// lookup). A local stateless worker: while a collection's or the aliases' grain does not answer (its silo died a
/// moment ago), this silo's last answer stands in, so a request does not wait for the cluster to declare a silo dead.
/// </summary>
[Alias("rc.ICollectionLookupGrain")]
public interface ICollectionLookupGrain : IGrainWithStringKey
{
    /// <summary>The collection's own name (the name itself, or the collection the alias names); null when there is none.</summary>
    Task<string?> Resolve(string name, CancellationToken cancellationToken = default);
}
