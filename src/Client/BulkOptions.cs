namespace RagCluster.Client;

/// <summary>How a bulk load is cut into requests and how long a refused document is retried.</summary>
public sealed class BulkOptions
{
    /// <summary>Documents per request, at most <see cref="RagClusterClient.MaxBatchDocuments"/>.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>JSON bytes per request; the API takes up to 51 MiB. A single larger document goes alone.</summary>
    public long MaxBatchBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>How many times a document refused for now (a full backlog: it names a Retry-After) is sent again.</summary>
    public int MaxRetriesPerDocument { get; set; } = 20;
}
