namespace RagCluster.Grains.Interfaces.Indexing;

/// <summary>
/// One generation of a collection's shards: how many there are and the grain keys they go by. Generation 0 keeps the
/// keys of collections created before generation 1 was the first ("collection/3"); later generations name their count
/// too ("collection/L1x16/3"), so keys are never reused and placement can spread a layout's shards evenly over the silos.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.ShardLayout")]
public sealed record ShardLayout(int Generation, int ShardCount)
{
    public string ShardKey(string collection, int shard) =>
        Generation == 0 ? $"{collection}/{shard}" : $"{collection}/L{Generation}x{ShardCount}/{shard}";

    public IEnumerable<string> ShardKeys(string collection) => Enumerable.Range(0, ShardCount).Select(i => ShardKey(collection, i));

    /// <summary>Copy <paramref name="copy"/> of a shard: 0 is the primary (its own key), a follower's key adds "~copy".</summary>
    public static string CopyKey(string shardKey, int copy) => copy == 0 ? shardKey : $"{shardKey}~{copy}";

    /// <summary>The primary's key and the copy number of a shard copy's key.</summary>
    public static (string ShardKey, int Copy) ParseCopy(string key) =>
        key.LastIndexOf('~') is var at and > 0 && int.TryParse(key.AsSpan(at + 1), out var copy) && copy > 0 ? (key[..at], copy) : (key, 0);
}
