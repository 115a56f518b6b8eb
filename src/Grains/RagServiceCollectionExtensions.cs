using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RagCluster.Configuration;
using RagCluster.Grains.Answering;
using RagCluster.Grains.Caching;
using RagCluster.Grains.Collections;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Querying;
using RagCluster.Grains.Vectors;

namespace RagCluster.Grains;

public static class RagServiceCollectionExtensions
{
    /// <summary>
    /// What the RAG grains need on every silo: the embedding model (section "Embedding"), HNSW parameters ("Hnsw"),
    /// defaults for new collections ("Collections"), ingest bounds ("Ingest"), the L1 query cache ("Cache") and the rest,
    /// each as IOptions&lt;T&gt; checked when the host starts.
    /// </summary>
    public static IServiceCollection AddRagPipeline(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<EmbeddingOptions>(configuration, "Embedding");
        services.AddValidatedOptions<HnswOptions>(configuration, "Hnsw");
        services.AddValidatedOptions<ShardOptions>(configuration, "Shards");
        services.AddValidatedOptions<CollectionDefaults>(configuration, "Collections");
        // 0 (the default) is the embedding model's window, filled in before the check runs. The Embedding section is read
        // as written, not through IOptions: a bad embedding setting is that section's one line, not this one's failure.
        services.AddOptions<CollectionDefaults>().PostConfigure(defaults =>
        {
            if (defaults.ChunkMaxTokens == 0) defaults.ChunkMaxTokens = CollectionDefaults.ModelWindow(configuration.GetSection("Embedding").Get<EmbeddingOptions>() ?? new());
        });
        services.AddValidatedOptions<IngestOptions>(configuration, "Ingest");
        services.AddValidatedOptions<ReshardOptions>(configuration, "Reshard");
        services.AddValidatedOptions<BackupOptions>(configuration, "Backup");
        services.AddValidatedOptions<QueryOptions>(configuration, "Query");
        services.AddValidatedOptions<Conversations.ConversationOptions>(configuration, "Conversations");
        services.AddValidatedOptions<CacheOptions>(configuration, "Cache");
        // Services that tests and tools also build by hand take the options' values.
        services.TryAddSingleton(sp => new EmbeddingService(sp.GetRequiredService<IOptions<EmbeddingOptions>>().Value,
            sp.GetRequiredService<ILogger<EmbeddingService>>(), sp.GetService<Placement.SiloRoles>()));
        services.TryAddSingleton<EmbeddingModel>();
        services.TryAddSingleton<Embedder>();
        services.TryAddSingleton<SentenceRanker>();
        services.TryAddSingleton<IndexingThreads>();
        services.TryAddSingleton<ShardLoadOrder>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, ShardWakeup>();
        services.TryAddSingleton(sp => new IndexingSlots(sp.GetRequiredService<IOptions<IngestOptions>>().Value));
        services.TryAddSingleton<BulkTextIndexer>();
        services.TryAddSingleton<DocumentSizes>();
        services.TryAddSingleton(TimeProvider.System);
        // Waiting on grains (RagCluster.Resilience) reads Query:PatienceMs and Query:LastKnownForSeconds.
        services.TryAddSingleton<RagCluster.Resilience.IPatienceSettings>(sp => sp.GetRequiredService<IOptions<QueryOptions>>().Value);
        services.TryAddSingleton<RagCluster.Resilience.Patience>();
        services.TryAddSingleton(typeof(RagCluster.Resilience.LastKnown<,>)); // one per kind of answer, shared by the silo's requests
        services.TryAddSingleton(sp =>
        {
            var cache = sp.GetRequiredService<IOptions<CacheOptions>>().Value;
            return new QueryCache(cache.L1Capacity, cache.L1Bytes);
        });
        // The LLM's HTTP pipeline (retries, breaker, timeouts) is built from its settings as it is registered.
        services.AddRagLlm(configuration.GetValidated<LlmOptions>("Llm"));
        return services;
    }
}
