using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RagCluster.Grains.Diagnostics;

/// <summary>The pipeline's instruments (meter "RagCluster.Grains"), exported with the runtime's at /metrics.</summary>
public static class RagMetrics
{
    public static readonly Meter Meter = new("RagCluster.Grains");

    public static readonly Counter<long> CacheHits = Meter.CreateCounter<long>("rc_cache_hits_total", description: "Query cache hits by tier (L1 silo, L2 cache grain, L3 store)");
    public static readonly Counter<long> CacheMisses = Meter.CreateCounter<long>("rc_cache_misses_total", description: "Query cache misses by tier");
    public static readonly Histogram<int> EmbeddingBatchSize = Meter.CreateHistogram<int>("rc_embedding_batch_size", description: "Texts per ONNX inference");
    public static readonly Histogram<double> EmbeddingBatchSeconds = Meter.CreateHistogram<double>("rc_embedding_batch_duration_seconds", "s", "Time per ONNX inference");
    public static readonly Histogram<double> QuerySeconds = Meter.CreateHistogram<double>("rc_query_duration_seconds", "s", "Uncached query time by the plan served");
    public static readonly Counter<long> Ingests = Meter.CreateCounter<long>("rc_ingest_documents_total", description: "Documents by indexing outcome (indexed, failed, retried)");
    public static readonly Counter<long> IngestedChunks = Meter.CreateCounter<long>("rc_ingest_chunks_total", description: "Chunks written to shards");

    public static TagList Tag(string key, string value) => new() { { key, value } };
}
