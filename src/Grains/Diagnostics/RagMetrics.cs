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
    public static readonly Counter<long> FilteredSearches = Meter.CreateCounter<long>("rc_filtered_searches_total",
        description: "Filtered vector searches in a shard, by how they were run (exact, value-links, two-hop)");
    public static readonly Counter<long> CacheMisses = Meter.CreateCounter<long>("rc_cache_misses_total", description: "Query cache misses by tier");
    public static readonly Counter<long> CacheUnavailable = Meter.CreateCounter<long>("rc_cache_unavailable_total",
        description: "Shared query cache calls (L2/L3) that failed transiently and were skipped, by operation (get, set)");
    public static readonly Histogram<int> EmbeddingBatchSize = Meter.CreateHistogram("rc_embedding_batch_size", null, "Texts per ONNX inference", advice: SizeBuckets);
    public static readonly InstrumentAdvice<double> RatioBuckets = new() { HistogramBucketBoundaries = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1] };
    public static readonly Histogram<double> EmbeddingBatchFill = Meter.CreateHistogram("rc_embedding_batch_fill_ratio", null, "How full each ONNX inference is: rows over Embedding:MaxBatch or padded tokens over Embedding:MaxBatchTokens, whichever is fuller", advice: RatioBuckets);
    public static readonly Histogram<double> EmbeddingPaddingFill = Meter.CreateHistogram("rc_embedding_padding_fill_ratio", null, "Real tokens over padded tokens per ONNX inference (1 = no padding)", advice: RatioBuckets);
    public static readonly Histogram<double> EmbeddingBatchSeconds = Meter.CreateHistogram("rc_embedding_batch_duration_seconds", "s", "Time per ONNX inference", advice: SecondsBuckets);
    public static readonly Histogram<double> QuerySeconds = Meter.CreateHistogram("rc_query_duration_seconds", "s", "Uncached query time by the plan served", advice: SecondsBuckets);
    public static readonly Counter<long> Ingests = Meter.CreateCounter<long>("rc_ingest_documents_total", description: "Documents by indexing outcome (indexed, failed, retried)");
    public static readonly Counter<long> ShardSnapshotFailures = Meter.CreateCounter<long>("rc_shard_snapshot_failures_total",
        description: "Shard snapshots that failed to write (retried with backoff; the log keeps every entry meanwhile)");
    public static readonly Histogram<double> BatchStepSeconds = Meter.CreateHistogram("rc_ingest_batch_step_duration_seconds", "s",
        "Time a batch of the bulk paths spent in each step (admission, accepting, queued, chunking, embedding, writing_shards, registering): " +
        "summed over a load and set beside its wall time, where a bulk load's time goes", advice: SecondsBuckets);
    public static readonly Counter<long> IngestedChunks = Meter.CreateCounter<long>("rc_ingest_chunks_total", description: "Chunks written to shards");
    /// <summary>Indexed documents and chunks over the last 10 s, as a rate a dashboard (or a person reading /metrics) sees without PromQL.</summary>
    public static readonly RateWindow IndexedDocumentsRate = new(), IndexedChunksRate = new();

    static RagMetrics()
    {
        Meter.CreateObservableGauge("rc_ingest_documents_per_second", () => IndexedDocumentsRate.PerSecond(), description: "Documents indexed per second on this silo, over the last 10 s");
        Meter.CreateObservableGauge("rc_ingest_chunks_per_second", () => IndexedChunksRate.PerSecond(), description: "Chunks indexed per second on this silo, over the last 10 s");
        Meter.CreateObservableGauge("rc_ingest_documents_in_progress", IngestSteps.Measure, description: "Documents indexing on this silo now, by the step they are in (where a slow ingest waits)");
    }

    public static TagList Tag(string key, string value) => new() { { key, value } };

    /// <summary>Records the time since <paramref name="since"/> (a Stopwatch timestamp) as a bulk batch's step, and returns now for the next one.</summary>
    public static long BatchStep(string step, long since)
    {
        var now = Stopwatch.GetTimestamp();
        BatchStepSeconds.Record(Stopwatch.GetElapsedTime(since, now).TotalSeconds, Tag("step", step));
        return now;
    }
}

/// <summary>How many documents are in each step of indexing on this silo; one <see cref="IngestSteps"/> per indexing pass.</summary>
public sealed class IngestSteps : IDisposable
{
    public const int WaitingForSlot = 0, Chunking = 1, Embedding = 2, WritingShards = 3, Registering = 4, Saving = 5;
    private static readonly string[] Names = ["waiting_for_slot", "chunking", "embedding", "writing_shards", "registering", "saving"];
    private static readonly int[] Counts = new int[Names.Length];
    private int _current = -1;

    public IngestSteps(int first) => MoveTo(first);

    public void MoveTo(int step)
    {
        if (_current >= 0) Interlocked.Decrement(ref Counts[_current]);
        _current = step;
        if (step >= 0) Interlocked.Increment(ref Counts[step]);
    }

    public void Dispose() => MoveTo(-1);

    internal static IEnumerable<Measurement<int>> Measure() =>
        Names.Select((n, i) => new Measurement<int>(Volatile.Read(ref Counts[i]), new KeyValuePair<string, object?>("step", n)));
}

/// <summary>Counts in one-second buckets over a sliding window: the recent rate of an event.</summary>
public sealed class RateWindow(int seconds = 10)
{
    // One bucket more than the window, so the current (partial) second never evicts the oldest full one.
    private readonly long[] _counts = new long[seconds + 1];
    private readonly long[] _stamps = new long[seconds + 1];

    public void Add(long n, long? nowSeconds = null)
    {
        var now = nowSeconds ?? Environment.TickCount64 / 1000;
        var i = (int)(now % _counts.Length);
        lock (_counts)
        {
            if (_stamps[i] != now) { _stamps[i] = now; _counts[i] = 0; }
            _counts[i] += n;
        }
    }

    /// <summary>Events per second over the last full <c>seconds</c> (the current, partial second excluded).</summary>
    public double PerSecond(long? nowSeconds = null)
    {
        var now = nowSeconds ?? Environment.TickCount64 / 1000;
        long sum = 0;
        lock (_counts)
            for (var i = 0; i < _counts.Length; i++)
                if (_stamps[i] < now && _stamps[i] >= now - seconds) sum += _counts[i];
        return sum / (double)seconds;
    }
}
