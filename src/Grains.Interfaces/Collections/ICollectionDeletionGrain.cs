namespace RagCluster.Grains.Interfaces.Collections;

/// <summary>
/// The deletion of one collection (keyed as its collection grain is), run in the cluster rather than in the process
/// that asks: the collection stops taking documents (stored first), every document goes (their chunks leave every
/// shard), then the collection itself and its entry in the tenant's list. Each step is stored before the next and is
/// safe to repeat, so a delete that failed part-way (its silo died) is finished by asking again.
/// </summary>
public interface ICollectionDeletionGrain : IGrainWithStringKey
{
    /// <summary>
    /// Deletes the collection; the number of documents deleted. A large collection takes minutes: the call has its own
    /// timeout. <see cref="Errors.ConflictException"/> while an alias names it (nothing deleted).
    /// </summary>
    [ResponseTimeout("01:00:00")]
    Task<int> Delete(CancellationToken cancellationToken = default);
}
