using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.VectorData;
using RagCluster.Client;

namespace RagCluster.VectorData;

/// <summary>
/// RagCluster as a Microsoft.Extensions.VectorData store: its collections of own vectors as VectorData collections,
/// over the HTTP API (<see cref="RagClusterClient"/>). Vectors are compared by cosine similarity in each shard's HNSW
/// graph; filters become the filter language over typed tags (TagFilter); hybrid search fuses the vector with BM25 over
/// the full-text property. Registered in a service container by RagClusterServiceCollectionExtensions.
/// </summary>
public sealed class RagClusterVectorStore(RagClusterClient client, RagClusterVectorStoreOptions? options = null) : VectorStore
{
    internal const string SystemName = "ragcluster";
    private readonly RagClusterVectorStoreOptions _options = options ?? new RagClusterVectorStoreOptions();

    public override VectorStoreCollection<TKey, TRecord> GetCollection<TKey, TRecord>(string name, VectorStoreCollectionDefinition? definition = null) =>
        new RagClusterCollection<TKey, TRecord>(client, name, _options, definition);

    public override VectorStoreCollection<object, Dictionary<string, object?>> GetDynamicCollection(string name, VectorStoreCollectionDefinition definition) =>
        new RagClusterCollection<object, Dictionary<string, object?>>(client, name, _options, definition);

    public override async IAsyncEnumerable<string> ListCollectionNamesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var name in await client.ListCollectionsAsync(cancellationToken).ConfigureAwait(false)) yield return name;
    }

    public override async Task<bool> CollectionExistsAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            await client.GetCollectionAsync(name, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RagClusterException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public override async Task EnsureCollectionDeletedAsync(string name, CancellationToken cancellationToken = default)
    {
        try { await client.DeleteCollectionAsync(name, cancellationToken).ConfigureAwait(false); }
        catch (RagClusterException e) when (e.StatusCode == HttpStatusCode.NotFound) { }
    }

    public override object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(VectorStoreMetadata) ? new VectorStoreMetadata { VectorStoreSystemName = SystemName, VectorStoreName = client.BaseAddress.ToString() }
        : serviceType == typeof(RagClusterClient) ? client
        : serviceType.IsInstanceOfType(this) ? this
        : null;
}
