namespace RagCluster.Grains.Interfaces.Collections;

/// <summary>
/// The creation of one collection (keyed as its collection grain is), run in the cluster rather than by the door that
/// asks: the tenant admits it (a 403 at the tenant's collection limit, counted while it is being created), the
/// collection is created, and it joins the tenant's list.
/// </summary>
public interface ICollectionCreationGrain : IGrainWithStringKey
{
    /// <summary>The collection's settings as created (its layout generation and incarnation set).</summary>
    Task<CollectionSettings> Create(CollectionSettings settings);
}
