using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using RagCluster.Grains.Caching;
using RagCluster.Grains.Collections;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Querying;
using RagCluster.Grains.Vectors;

namespace RagCluster.Grains;

public static class RagServiceCollectionExtensions
{
    /// <summary>
    /// What the RAG grains need on every silo: the embedding model (section "Embedding"), HNSW parameters
    /// ("Hnsw"), defaults for new collections ("Collections") and the L1 query cache.
    /// </summary>
    public static IServiceCollection AddRagPipeline(this IServiceCollection services, IConfiguration configuration)
    {
        var embedding = new EmbeddingOptions();
        configuration.GetSection("Embedding").Bind(embedding);
        embedding.Validate();
        var hnsw = new HnswOptions();
        configuration.GetSection("Hnsw").Bind(hnsw);
        hnsw.Validate();
        var collections = new CollectionDefaults();
        configuration.GetSection("Collections").Bind(collections);
        services.TryAddSingleton(embedding);
        services.TryAddSingleton(hnsw);
        services.TryAddSingleton<RagCluster.Grains.Indexing.IndexingThreads>();
        services.TryAddSingleton(collections);
        services.TryAddSingleton<EmbeddingService>();
        services.TryAddSingleton<Embedder>();
        var indexing = configuration.GetValue("Ingest:MaxConcurrentDocuments", 128);
        if (indexing is < 1 or > 100_000) throw new ArgumentException("Ingest:MaxConcurrentDocuments must be 1..100000");
        var queuedDocuments = configuration.GetValue("Ingest:MaxQueuedDocuments", 10_000);
        if (queuedDocuments is < 1 or > 10_000_000) throw new ArgumentException("Ingest:MaxQueuedDocuments must be 1..10000000");
        var queuedMegabytes = configuration.GetValue("Ingest:MaxQueuedMegabytes", 512);
        if (queuedMegabytes is < 1 or > 1_000_000) throw new ArgumentException("Ingest:MaxQueuedMegabytes must be 1..1000000");
        var admissionHold = TimeSetting(configuration, "Ingest:AdmissionHold", TimeSpan.FromSeconds(10), TimeSpan.Zero, TimeSpan.FromMinutes(5));
        services.TryAddSingleton(new IndexingSlots(indexing, queuedDocuments, queuedMegabytes * 1024L * 1024, admissionHold));
        var sweepPeriod = TimeSetting(configuration, "Ingest:PendingSweepPeriod", PendingSweepOptions.Default.Period, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        var sweepCallTimeout = TimeSetting(configuration, "Ingest:PendingSweepCallTimeout", PendingSweepOptions.Default.CallTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
        services.TryAddSingleton(new PendingSweepOptions(sweepPeriod) { CallTimeout = sweepCallTimeout });
        var restoreLease = TimeSetting(configuration, "Backup:RestoreLease", RestoreLeaseOptions.Default.Lease, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        services.TryAddSingleton(new RestoreLeaseOptions(restoreLease));
        var shards = new Indexing.ShardOptions();
        configuration.GetSection("Shards").Bind(shards);
        shards.Validate();
        services.TryAddSingleton(shards);
        var reshard = new ReshardOptions();
        configuration.GetSection("Reshard").Bind(reshard);
        reshard.Validate();
        services.TryAddSingleton(reshard);
        var query = new QueryOptions();
        configuration.GetSection("Query").Bind(query);
        services.TryAddSingleton(query);
        var llm = new LlmOptions();
        configuration.GetSection("Llm").Bind(llm);
        services.AddRagLlm(llm);
        services.TryAddSingleton(new QueryCache(configuration.GetValue("Cache:L1Capacity", 4096)));
        return services;
    }

    /// <summary>A time span setting, or one line saying why it cannot be one.</summary>
    private static TimeSpan TimeSetting(IConfiguration configuration, string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        var setting = configuration[key];
        var value = fallback;
        if (setting is not null && !TimeSpan.TryParse(setting, System.Globalization.CultureInfo.InvariantCulture, out value))
            throw new ArgumentException($"{key} '{setting}' is not a time span such as 00:00:30");
        if (value < min || value > max) throw new ArgumentException($"{key} must be {min:c}..{max:c}");
        return value;
    }
}
