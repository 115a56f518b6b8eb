namespace RagCluster.Grains.Interfaces.Querying;

/// <summary>
/// The limits of a search and an ask, in one place: the query plan enforces them, and the API, the MCP tools and the
/// CLI check or cut by the same names (the .NET client and the VectorData connector, which see only HTTP, say them in words).
/// </summary>
public static class QueryLimits
{
    /// <summary>A query, a question, or an earlier question carried into a follow-up.</summary>
    public const int MaxQueryChars = 2000;
    /// <summary>Hits a search returns (topK + offset), and passages an ask reads.</summary>
    public const int MaxTopK = 100;
    /// <summary>The ranked window a search pages through: offset + topK at most this.</summary>
    public const int MaxWindow = 1000;
    /// <summary>Chunks a document group of a grouped search holds.</summary>
    public const int MaxGroupSize = 10;
    /// <summary>The HNSW search breadth a search may ask of each shard.</summary>
    public const int MaxEf = 4096;
    /// <summary>Documents a read-your-writes search may name.</summary>
    public const int MaxReadAfter = 100;
    /// <summary>Turns of history an ask may carry by default (Conversations:MaxHistoryTurns sets a cluster's own).</summary>
    public const int DefaultHistoryTurns = 20;
    /// <summary>An earlier answer a caller sends as history.</summary>
    public const int MaxHistoryAnswerChars = 20_000;
}
