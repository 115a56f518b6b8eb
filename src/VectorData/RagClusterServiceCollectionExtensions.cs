using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using RagCluster.Client;
using RagCluster.VectorData;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers RagCluster's VectorData store and collections in a service container, as the abstraction's connectors do:
/// the concrete type and its abstractions (<see cref="VectorStore"/>; <see cref="VectorStoreCollection{TKey, TRecord}"/>,
/// <see cref="IVectorSearchable{TRecord}"/>, <see cref="IKeywordHybridSearchable{TRecord}"/>), keyed or not, with the
/// lifetime asked. The client is the container's <see cref="RagClusterClient"/> (under the same key) unless a provider or
/// an address is given; the options' embedding generator is the container's <see cref="IEmbeddingGenerator"/> unless
/// options are given. Both are resolved when the store or collection is made, not when it is registered.
/// </summary>
public static class RagClusterServiceCollectionExtensions
{
    /// <summary>The store over the client <paramref name="clientProvider"/> gives (the container's by default).</summary>
    public static IServiceCollection AddRagClusterVectorStore(this IServiceCollection services, Func<IServiceProvider, RagClusterClient>? clientProvider = null,
        Func<IServiceProvider, RagClusterVectorStoreOptions>? optionsProvider = null, ServiceLifetime lifetime = ServiceLifetime.Singleton) =>
        AddKeyedRagClusterVectorStore(services, null, clientProvider, optionsProvider, lifetime);

    /// <summary>The store over the API at <paramref name="url"/>, one client for the registration's every instance.</summary>
    public static IServiceCollection AddRagClusterVectorStore(this IServiceCollection services, Uri url, string? apiKey = null,
        Func<IServiceProvider, RagClusterVectorStoreOptions>? optionsProvider = null, ServiceLifetime lifetime = ServiceLifetime.Singleton) =>
        AddKeyedRagClusterVectorStore(services, null, url, apiKey, optionsProvider, lifetime);

    /// <inheritdoc cref="AddRagClusterVectorStore(IServiceCollection, Func{IServiceProvider, RagClusterClient}?, Func{IServiceProvider, RagClusterVectorStoreOptions}?, ServiceLifetime)"/>
    public static IServiceCollection AddKeyedRagClusterVectorStore(this IServiceCollection services, object? serviceKey, Func<IServiceProvider, RagClusterClient>? clientProvider = null,
        Func<IServiceProvider, RagClusterVectorStoreOptions>? optionsProvider = null, ServiceLifetime lifetime = ServiceLifetime.Singleton)
    {
        ArgumentNullException.ThrowIfNull(services);
        var client = clientProvider ?? (sp => Resolve<RagClusterClient>(sp, serviceKey));
        services.Add(new ServiceDescriptor(typeof(RagClusterVectorStore), serviceKey,
            (sp, _) => new RagClusterVectorStore(client(sp), OptionsOf(sp, serviceKey, optionsProvider)), lifetime));
        services.Add(new ServiceDescriptor(typeof(VectorStore), serviceKey, (sp, key) => Resolve<RagClusterVectorStore>(sp, key), lifetime));
        return services;
    }

    /// <inheritdoc cref="AddRagClusterVectorStore(IServiceCollection, Uri, string?, Func{IServiceProvider, RagClusterVectorStoreOptions}?, ServiceLifetime)"/>
    public static IServiceCollection AddKeyedRagClusterVectorStore(this IServiceCollection services, object? serviceKey, Uri url, string? apiKey = null,
        Func<IServiceProvider, RagClusterVectorStoreOptions>? optionsProvider = null, ServiceLifetime lifetime = ServiceLifetime.Singleton)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(url);
        return AddKeyedRagClusterVectorStore(services, serviceKey, SharedClient(url, apiKey), optionsProvider, lifetime);
    }

    /// <summary>The collection <paramref name="name"/> over the client <paramref name="clientProvider"/> gives (the container's by default).</summary>
    public static IServiceCollection AddRagClusterCollection<TKey, TRecord>(this IServiceCollection services, string name,
        Func<IServiceProvider, RagClusterClient>? clientProvider = null, Func<IServiceProvider, RagClusterVectorStoreOptions>? optionsProvider = null,
        ServiceLifetime lifetime = ServiceLifetime.Singleton) where TKey : notnull where TRecord : class =>
        AddKeyedRagClusterCollection<TKey, TRecord>(services, null, name, clientProvider, optionsProvider, lifetime);

    /// <summary>The collection <paramref name="name"/> over the API at <paramref name="url"/>, one client for the registration's every instance.</summary>
    public static IServiceCollection AddRagClusterCollection<TKey, TRecord>(this IServiceCollection services, string name, Uri url, string? apiKey = null,
        Func<IServiceProvider, RagClusterVectorStoreOptions>? optionsProvider = null, ServiceLifetime lifetime = ServiceLifetime.Singleton)
        where TKey : notnull where TRecord : class =>
        AddKeyedRagClusterCollection<TKey, TRecord>(services, null, name, url, apiKey, optionsProvider, lifetime);

    /// <inheritdoc cref="AddRagClusterCollection{TKey, TRecord}(IServiceCollection, string, Func{IServiceProvider, RagClusterClient}?, Func{IServiceProvider, RagClusterVectorStoreOptions}?, ServiceLifetime)"/>
    public static IServiceCollection AddKeyedRagClusterCollection<TKey, TRecord>(this IServiceCollection services, object? serviceKey, string name,
        Func<IServiceProvider, RagClusterClient>? clientProvider = null, Func<IServiceProvider, RagClusterVectorStoreOptions>? optionsProvider = null,
        ServiceLifetime lifetime = ServiceLifetime.Singleton) where TKey : notnull where TRecord : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var client = clientProvider ?? (sp => Resolve<RagClusterClient>(sp, serviceKey));
        services.Add(new ServiceDescriptor(typeof(RagClusterCollection<TKey, TRecord>), serviceKey,
            (sp, _) => new RagClusterCollection<TKey, TRecord>(client(sp), name, OptionsOf(sp, serviceKey, optionsProvider), definition: null), lifetime));
        services.Add(new ServiceDescriptor(typeof(VectorStoreCollection<TKey, TRecord>), serviceKey, (sp, key) => Resolve<RagClusterCollection<TKey, TRecord>>(sp, key), lifetime));
        services.Add(new ServiceDescriptor(typeof(IVectorSearchable<TRecord>), serviceKey, (sp, key) => Resolve<RagClusterCollection<TKey, TRecord>>(sp, key), lifetime));
        services.Add(new ServiceDescriptor(typeof(IKeywordHybridSearchable<TRecord>), serviceKey, (sp, key) => Resolve<RagClusterCollection<TKey, TRecord>>(sp, key), lifetime));
        return services;
    }

    /// <inheritdoc cref="AddRagClusterCollection{TKey, TRecord}(IServiceCollection, string, Uri, string?, Func{IServiceProvider, RagClusterVectorStoreOptions}?, ServiceLifetime)"/>
    public static IServiceCollection AddKeyedRagClusterCollection<TKey, TRecord>(this IServiceCollection services, object? serviceKey, string name, Uri url,
        string? apiKey = null, Func<IServiceProvider, RagClusterVectorStoreOptions>? optionsProvider = null, ServiceLifetime lifetime = ServiceLifetime.Singleton)
        where TKey : notnull where TRecord : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(url);
        return AddKeyedRagClusterCollection<TKey, TRecord>(services, serviceKey, name, SharedClient(url, apiKey), optionsProvider, lifetime);
    }

    // One client (and so one HttpClient and its connections) however many instances a scoped or transient registration makes.
    private static Func<IServiceProvider, RagClusterClient> SharedClient(Uri url, string? apiKey)
    {
        var client = new Lazy<RagClusterClient>(() => new RagClusterClient(url, apiKey));
        return _ => client.Value;
    }

    private static RagClusterVectorStoreOptions OptionsOf(IServiceProvider sp, object? serviceKey, Func<IServiceProvider, RagClusterVectorStoreOptions>? optionsProvider) =>
        optionsProvider?.Invoke(sp) ?? new RagClusterVectorStoreOptions
        {
            EmbeddingGenerator = (serviceKey is null ? null : sp.GetKeyedService<IEmbeddingGenerator>(serviceKey)) ?? sp.GetService<IEmbeddingGenerator>(),
        };

    private static T Resolve<T>(IServiceProvider sp, object? serviceKey) where T : notnull =>
        serviceKey is null ? sp.GetRequiredService<T>() : sp.GetRequiredKeyedService<T>(serviceKey);
}
