using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using RagCluster.Grains.Caching;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Caching;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Metadata;

namespace RagCluster.Grains.Querying;

// A search's cache tiers: L1 on this silo, then L2 (memory) and L3 (stored) in the cache grain of the key's partition.
public sealed partial class QueryPlanGrain
{
    private static readonly JsonSerializerOptions KeyJson = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>
    /// The one cache key of a search: the collection's version and the request itself as JSON, so an option added to
    /// <see cref="SearchRequest"/> keys the cache without a line here. The filter is the canonical one with the caller's
    /// trim in it (the groups key the entry, not the key that asked), the query vector is hashed, and what makes a search
    /// uncacheable (readAfter, explain) or only routes it (consistency) is left out.
    /// </summary>
    private static string CacheKey(SearchScope search, float[]? ownVector) =>
        $"{search.Collection}\u0001{search.Info.Version}\u0001"
        + JsonSerializer.Serialize(search.Request with
        {
            Filter = search.Filter is null ? null : FilterParser.Canonical(search.Filter),
            Vector = null, Access = null, ReadAfter = null, Explain = false, Consistency = null,
        }, KeyJson)
        + (ownVector is null ? "" : "\u0001" + Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(ownVector.AsSpan()))));

    /// <summary>The answer from L1, else from the key's cache grain (null: a miss), and that grain, to store the answer in after a miss.</summary>
    private async Task<(SearchResponse? Cached, ICacheGrain? Partition)> CachedAsync(string key, bool cacheable, SearchSteps steps, Stopwatch sw, CancellationToken ct)
    {
        if (cacheable && cache.TryGet(key, out var cached))
            return (cached with { Cached = true, CacheTier = "L1", ElapsedMs = sw.Elapsed.TotalMilliseconds }, null);
        var partition = GrainFactory.GetGrain<ICacheGrain>(CacheGrain.PartitionOf(key));
        var shared = !cacheable ? new CacheLookup(false, null, "skipped")
            : await SharedCacheAsync("get", () => patience.WaitAsync(partition.GetGrainId(), partition.Get(key), ct)) ?? new CacheLookup(false, null, "unavailable");
        ct.ThrowIfCancellationRequested(); // the shared cache counts a cancelled call as unavailable
        if (cacheable) steps.Done($"shared cache get ({shared.Tier})");
        if (shared is { Found: true, Value: { } fromL2 })
        {
            RagMetrics.CacheHits.Add(1, RagMetrics.Tag("tier", shared.Tier));
            cache.Set(key, fromL2);
            return (fromL2 with { Cached = true, CacheTier = shared.Tier, ElapsedMs = sw.Elapsed.TotalMilliseconds }, partition);
        }
        RagMetrics.CacheMisses.Add(1, RagMetrics.Tag("tier", "L2"));
        return (null, partition);
    }

    private async Task StoreAsync(string key, ICacheGrain? partition, SearchResponse response, SearchSteps steps, CancellationToken ct)
    {
        cache.Set(key, response);
        if (partition is null) return;
        await SharedCacheAsync("set", async () => { await patience.WaitAsync(partition.GetGrainId(), partition.Set(key, response), ct); return response; });
        steps.Done("shared cache set");
    }

    /// <summary>
    /// A call to the shared cache tiers, which only save work: when it fails transiently (the partition's storage or silo
    /// is down, e.g. it could not flush during a database restart and now cannot reactivate), the search goes on as a miss.
    /// </summary>
    private async Task<T?> SharedCacheAsync<T>(string operation, Func<Task<T>> call) where T : class
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (DocumentRefusal.IsTransient(e))
        {
            RagMetrics.CacheUnavailable.Add(1, RagMetrics.Tag("operation", operation));
            QueryPlanLog.SharedCacheSkipped(log, operation, e.Message.Split('\n')[0]);
            return null;
        }
    }
}
