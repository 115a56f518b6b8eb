using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Interfaces.Collections;

/// <summary>
/// Key: "tenant.collection". The one door of every read of a collection's documents other than a search (whose trim is
/// the query plan's): each takes the caller's <see cref="ReadAccess"/> and answers only what it may see, a hidden
/// document exactly as one that does not exist. The adapters (HTTP, MCP, the CLI) parse, call this and shape the reply;
/// none builds a trim. A stateless worker: it runs on the silo that asks and holds nothing.
/// </summary>
[Alias("rc.ICollectionReadsGrain")]
public interface ICollectionReadsGrain : IGrainWithStringKey
{
    /// <summary>Settings, version and resharding, with the document counts only for a caller who sees every document (the counts include hidden ones).</summary>
    Task<CollectionView> Info(ReadAccess caller);

    /// <summary>
    /// These documents' statuses, in order; one the caller cannot see reads as one never written (Unknown, version 0).
    /// Written in bulk they come from the registry in one call, the rest from their grains.
    /// </summary>
    Task<DocumentStatus[]> Statuses(string[] documentIds, ReadAccess caller);

    /// <summary>The documents of these ids the index holds and the caller may see (tested on the tags the index holds), in that order; the others are left out.</summary>
    Task<HeldDocument[]> Contents(string[] documentIds, bool includeVectors, ReadAccess caller);

    /// <summary>
    /// A page of the ids the caller sees, in ordinal order after <paramref name="after"/>, all of them or those with a chunk
    /// <paramref name="filter"/> (JSON, the filter language) matches; Next is the last id when the page is full.
    /// InvalidRequestException names what is wrong with a filter.
    /// </summary>
    Task<DocumentPage> Page(string? filter, string? after, int limit, ReadAccess caller);
}
