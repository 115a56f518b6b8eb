namespace RagCluster.Grains.Interfaces.Documents;

/// <summary>What one request may name at once, for every door alike.</summary>
public static class DocumentLimits
{
    /// <summary>Documents one batch ingest, tag batch, statuses request or listing page may carry.</summary>
    public const int MaxDocuments = 1000;
}
