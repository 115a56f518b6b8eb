using RagCluster.Grains.Interfaces.Backup;

namespace RagCluster.Grains.Interfaces.Documents;

/// <summary>Key: "collection/documentId" (<see cref="DocumentGrainKey"/>). Owns one document's versions, chunks and status.</summary>
[Alias("rc.IDocumentGrain")]
public interface IDocumentGrain : IGrainWithStringKey
{
    /// <summary>Stores the content and returns at once (status pending); indexing continues in the grain.</summary>
    Task<DocumentStatus> Ingest(IngestRequest request);
    Task<DocumentStatus> GetStatus();
    /// <summary>
    /// Deletes the document: its chunks leave every shard and it leaves the collection. True when there was something to
    /// delete, including a delete that failed part-way, which a repeated call finishes; false when there was nothing.
    /// </summary>
    Task<bool> Delete();
    /// <summary>
    /// Changes tags without the content (stored form; null removes a tag): a new version, durable when this returns,
    /// whose chunks keep their text and vectors. A document not indexed yet is indexed again with them.
    /// </summary>
    Task<DocumentStatus> UpdateTags(Dictionary<string, string?> changes);
    /// <summary>What a backup keeps of the document besides its chunks.</summary>
    Task<RestoredDocument?> Export();
}
