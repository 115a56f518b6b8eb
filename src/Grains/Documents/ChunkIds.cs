namespace RagCluster.Grains.Documents;

/// <summary>
/// A chunk's id: its document's id and its ordinal, "doc-7#3". Chunks are named so when made, a shard keeps only the
/// ids that differ from it, and the shard a chunk lives on is the hash of this id (<see cref="Indexing.ShardRouting.ShardOf"/>).
/// </summary>
public static class ChunkIds
{
    public static string Of(string documentId, int ordinal) => $"{documentId}#{ordinal}";
}
