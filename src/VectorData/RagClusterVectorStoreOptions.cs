using Microsoft.Extensions.AI;

namespace RagCluster.VectorData;

public sealed class RagClusterVectorStoreOptions
{
    /// <summary>Upserts return once the records are indexed (readable and searchable), not just stored. Default: true.</summary>
    public bool WaitForIndexing { get; set; } = true;

    /// <summary>How long an upsert waits for indexing before it fails (the records stay and are indexed later).</summary>
    public TimeSpan IndexingTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Embeds records' and searches' text where a vector property is text (string) rather than a vector.</summary>
    public IEmbeddingGenerator? EmbeddingGenerator { get; set; }

    /// <summary>
    /// The access field of collections this store creates: a string-list property of that name holds each record's
    /// reader groups, and the key's groups decide which records it gets, searches and reads. Null: none.
    /// </summary>
    public string? AccessField { get; set; }
}
