using RagCluster.Grains.Interfaces.Collections;

namespace RagCluster.Tests.Infrastructure;

public static class CollectionShards
{
    /// <summary>The grain keys of a collection's serving shards, as its settings say (a new collection's name its count).</summary>
    public static async Task<string[]> ShardKeysAsync(this IGrainFactory grains, string collection) =>
        [.. (await grains.GetGrain<ICollectionGrain>(collection).GetSettings()).Layout.ShardKeys(collection)];
}
