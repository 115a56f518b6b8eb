using RagCluster.Grains.Interfaces.Backup;

namespace RagCluster.Grains.Interfaces.Documents;

/// <summary>Key: "collection/documentId" (<see cref="DocumentGrainKey"/>). Owns one document's versions, chunks and status.</summary>
[Alias("rc.IDocumentGrain")]
public interface IDocumentGrain : IGrainWithStringKey
{
    /// <summary>
    /// Stores the content and returns at once (status pending); indexing continues in the grain. ConflictException when
    /// the id holds a document the request's writer cannot see (nothing is stored).
    /// </summary>
    Task<DocumentStatus> Ingest(IngestRequest request);
    Task<DocumentStatus> GetStatus();
    /// <summary>
    /// Deletes the document: its chunks leave every shard and it leaves the collection. True when there was something to
    /// delete, including a delete that failed part-way, which a repeated call finishes; false when there was nothing, or
    /// nothing <paramref name="caller"/> may see (null: the cluster's own delete, which sees every document).
    /// </summary>
    Task<bool> Delete(Security.ReadAccess? caller = null);
    /// <summary>
    /// Changes tags without the content (stored form; null removes a tag): a new version, durable when this returns,
    /// whose chunks keep their text and vectors. A document not indexed yet is indexed again with them. NotFoundException
    /// for none, and for one <paramref name="caller"/> cannot see (null: the cluster's own change).
    /// </summary>
    Task<DocumentStatus> UpdateTags(Dictionary<string, string?> changes, Security.ReadAccess? caller = null);
    /// <summary>What a backup keeps of the document besides its chunks.</summary>
    Task<RestoredDocument?> Export();
}
