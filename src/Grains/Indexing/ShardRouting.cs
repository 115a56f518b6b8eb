using RagCluster.Grains.Documents;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// Which shard of a layout holds a chunk: a stable hash of its id (<see cref="ChunkIds.Of"/>), the same on every silo and
/// every run, so writers, the bulk path, reshards, restores and read-your-writes all route a chunk alike.
/// </summary>
public static class ShardRouting
{
    /// <summary>The shard of <paramref name="chunkId"/> among <paramref name="shardCount"/>.</summary>
    public static int ShardOf(string chunkId, int shardCount) => (int)(StableHash.Of(chunkId) % (uint)shardCount);

    /// <summary>The shard of a one-chunk document (its chunk id is "id#0"), as the bulk path and its sweep route it.</summary>
    public static int ShardOfSingleChunk(string documentId, int shardCount) => ShardOf(ChunkIds.Of(documentId, 0), shardCount);
}
