using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RagCluster.Grains.Diagnostics;

/// <summary>The pipeline's instruments (meter "RagCluster.Grains"), exported by OpenTelemetry at /metrics.</summary>
public static class RagMetrics
{
    public static readonly Meter Meter = new("RagCluster.Grains");

    /// <summary>Histogram buckets (advice OpenTelemetry honours): sub-millisecond cache hits to 30 s inferences.</summary>
    public static readonly InstrumentAdvice<double> SecondsBuckets = new() { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] };
    public static readonly InstrumentAdvice<int> SizeBuckets = new() { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] };

    public static readonly Counter<long> CacheHits = Meter.CreateCounter<long>("rc_cache_hits_total", description: "Query cache hits by tier (L1 silo, L2 cache grain, L3 store)");
    public static readonly Counter<long> CacheMisses = Meter.CreateCounter<long>("rc_cache_misses_total", description: "Query cache misses by tier");
    public static readonly Histogram<int> EmbeddingBatchSize = Meter.CreateHistogram("rc_embedding_batch_size", null, "Texts per ONNX inference", advice: SizeBuckets);
    public static readonly Histogram<double> EmbeddingBatchSeconds = Meter.CreateHistogram("rc_embedding_batch_duration_seconds", "s", "Time per ONNX inference", advice: SecondsBuckets);
    public static readonly Histogram<double> QuerySeconds = Meter.CreateHistogram("rc_query_duration_seconds", "s", "Uncached query time by the plan served", advice: SecondsBuckets);
    public static readonly Counter<long> Ingests = Meter.CreateCounter<long>("rc_ingest_documents_total", description: "Documents by indexing outcome (indexed, failed, retried)");
    public static readonly Counter<long> IngestedChunks = Meter.CreateCounter<long>("rc_ingest_chunks_total", description: "Chunks written to shards");

    public static TagList Tag(string key, string value) => new() { { key, value } };
}
