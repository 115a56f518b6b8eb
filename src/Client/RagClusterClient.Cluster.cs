namespace RagCluster.Client;

public sealed partial class RagClusterClient
{
    /// <summary>How a collection's queries were planned: wins and mean latency per plan.</summary>
    public Task<PlanStats> GetPlanStatsAsync(string collection, CancellationToken ct = default) => GetAsync<PlanStats>(CollectionPath(collection) + "/plans", ct);

    /// <summary>Each shard of a collection: chunks, vectors, memory, the silo it lives on, its snapshots.</summary>
    public Task<ShardStats[]> GetShardStatsAsync(string collection, CancellationToken ct = default) => GetAsync<ShardStats[]>(CollectionPath(collection) + "/shards", ct);

    /// <summary>The query cache's hits, misses and entries per tier (operators).</summary>
    public Task<CacheReply> GetCacheStatsAsync(CancellationToken ct = default) => GetAsync<CacheReply>("v1/cache", ct);

    /// <summary>The cluster's membership as the answering silo sees it (operators).</summary>
    public Task<ClusterReply> GetClusterAsync(CancellationToken ct = default) => GetAsync<ClusterReply>("v1/cluster", ct);
}
