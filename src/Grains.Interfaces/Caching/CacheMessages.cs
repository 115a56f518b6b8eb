using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Grains.Interfaces.Caching;

// Wire and stored types: Orleans serializers are generated for them; primary-constructor members get ids in
// declaration order, so new members go at the end. [Alias] keeps stored state readable across renames and moves.
// [Immutable]: values never changed after they are sent, so Orleans skips the defensive copy on local calls.

[GenerateSerializer, Immutable, Alias("rc.CacheLookup")]
public sealed record CacheLookup(bool Found, SearchResponse? Value, string Tier);

[GenerateSerializer, Immutable, Alias("rc.CacheStats")]
public sealed record CacheStats(string Partition, int Entries, long L2Hits, long L3Hits, long Misses, long Writes)
{
    /// <summary>Rows this activation's flushes wrote: one per entry set or evicted since the flush before.</summary>
    [Id(6)] public long RowsWritten { get; init; }
}

/// <summary>
/// The query cache's counters: L1 of the silo that answers (hits, misses, entries), and L2 and L3 summed over the
/// cache partitions (L3 counts hits only; <see cref="Misses"/> are the queries computed).
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.CacheTotals")]
public sealed record CacheTotals(long L1Hits, long L1Misses, int L1Entries, long L2Hits, long L3Hits, long Misses, long Entries);
