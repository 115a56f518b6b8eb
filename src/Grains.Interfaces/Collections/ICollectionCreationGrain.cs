namespace RagCluster.Grains.Interfaces.Collections;

/// <summary>
/// The creation of one collection (keyed as its collection grain is), run in the cluster rather than by the door that
/// asks: the name checked against the tenant's aliases (a 409), the cluster's defaults filled in, the copies checked
/// against the active silos, the tenant's admission (a 403 at its collection limit, counted while it is being
/// created), the collection created, and the tenant's list.
/// </summary>
public interface ICollectionCreationGrain : IGrainWithStringKey
{
    /// <summary>The collection's settings as created (its layout generation and incarnation set).</summary>
    Task<CollectionSettings> Create(NewCollection collection);
}
