using System.Linq.Expressions;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using RagCluster.Client;

namespace RagCluster.VectorData;

/// <summary>
/// A RagCluster collection of own vectors as a VectorData collection: a record is a document of one chunk (its vector,
/// its full-text property as the chunk's text, its other data properties as tags). Upserts return once the records
/// are indexed (<see cref="RagClusterVectorStoreOptions.WaitForIndexing"/>), so a get or a search right after sees them.
/// </summary>
public sealed class RagClusterCollection<TKey, TRecord> : VectorStoreCollection<TKey, TRecord>, IKeywordHybridSearchable<TRecord>
    where TKey : notnull
    where TRecord : class
{
    private const int MaxTopK = 100; // the API's limit per search
    private readonly RagClusterClient _client;
    private readonly RagClusterVectorStoreOptions _options;
    private readonly RecordMapper _map;
    private readonly VectorStoreCollectionMetadata _metadata;

    internal RagClusterCollection(RagClusterClient client, string name, RagClusterVectorStoreOptions options, VectorStoreCollectionDefinition? definition)
    {
        _client = client;
        _options = options;
        Name = name;
        var builder = new RagClusterModelBuilder();
        _map = new RecordMapper(typeof(TRecord) == typeof(Dictionary<string, object?>)
            ? builder.BuildDynamic(definition ?? throw new ArgumentException("a dynamic collection needs a record definition", nameof(definition)), options.EmbeddingGenerator)
            : builder.Build(typeof(TRecord), typeof(TKey), definition, options.EmbeddingGenerator));
        _metadata = new VectorStoreCollectionMetadata { VectorStoreSystemName = RagClusterVectorStore.SystemName, VectorStoreName = client.BaseAddress.ToString(), CollectionName = name };
    }

    public override string Name { get; }

    public override Task<bool> CollectionExistsAsync(CancellationToken cancellationToken = default) => Run("CollectionExists", async () =>
    {
        try
        {
            await _client.GetCollectionAsync(Name, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RagClusterException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    });

    /// <summary>Creates the collection for vectors of the model's dimension; an existing one must hold vectors of that dimension.</summary>
    public override Task EnsureCollectionExistsAsync(CancellationToken cancellationToken = default) => Run("EnsureCollectionExists", async () =>
    {
        var dimensions = _map.Dimensions;
        var vector = _map.Model.VectorProperties.FirstOrDefault();
        var indexKind = vector?.IndexKind == IndexKind.Flat ? "flat" : null;
        var distance = RecordMapper.CollectionDistance(vector?.DistanceFunction) is var d and not "cosine" ? d : null;
        var request = new CreateCollectionRequest(Name) { Dimensions = dimensions, AccessField = _options.AccessField, IndexKind = indexKind, Fields = _map.TextFields, Distance = distance };
        if (await _client.EnsureCollectionAsync(request, cancellationToken).ConfigureAwait(false)) return true;
        var held = (await _client.GetCollectionAsync(Name, cancellationToken).ConfigureAwait(false)).Settings;
        if (held.Dimensions != dimensions)
            throw new VectorStoreException($"collection '{Name}' exists with {(held.Dimensions is null ? "the cluster's model (text, not vectors)" : $"{held.Dimensions}-dimensional vectors")}, not {dimensions}-dimensional ones");
        if ((held.Distance ?? "cosine") != (distance ?? "cosine"))
            throw new VectorStoreException($"collection '{Name}' exists comparing vectors by {held.Distance ?? "cosine"}, not {distance}");
        return true;
    });

    public override Task EnsureCollectionDeletedAsync(CancellationToken cancellationToken = default) => Run("EnsureCollectionDeleted", async () =>
    {
        try { await _client.DeleteCollectionAsync(Name, cancellationToken).ConfigureAwait(false); }
        catch (RagClusterException e) when (e.StatusCode == HttpStatusCode.NotFound) { }
        return true;
    });

    public override async Task<TRecord?> GetAsync(TKey key, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await foreach (var record in GetAsync([key], options, cancellationToken).ConfigureAwait(false)) return record;
        return null;
    }

    // Arguments are checked when the call is made, not at the first MoveNextAsync: the abstraction's contract (and its conformance suite).
    public override IAsyncEnumerable<TRecord> GetAsync(IEnumerable<TKey> keys, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        RefuseVectorsOfGeneratedEmbeddings(options?.IncludeVectors == true);
        return GetManyAsync(keys, options, cancellationToken);
    }

    private async IAsyncEnumerable<TRecord> GetManyAsync(IEnumerable<TKey> keys, RecordRetrievalOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var page in keys.Select(KeyText).Chunk(RagClusterClient.MaxBatchDocuments))
            foreach (var document in await Run("Get", () => _client.GetDocumentContentsAsync(Name, page, options?.IncludeVectors == true, cancellationToken)).ConfigureAwait(false))
                yield return _map.ToRecord<TRecord>(document, options?.IncludeVectors == true);
    }

    /// <summary>
    /// Records whose data properties match the filter, read page by page through the collection's document ids that
    /// match it (each shard's tag index answers). In document id order; no other ordering.
    /// </summary>
    public override async IAsyncEnumerable<TRecord> GetAsync(Expression<Func<TRecord, bool>> filter, int top, FilteredRecordRetrievalOptions<TRecord>? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        RefuseVectorsOfGeneratedEmbeddings(options?.IncludeVectors == true);
        var sorts = options?.OrderBy?.Invoke(new FilteredRecordRetrievalOptions<TRecord>.OrderByDefinition()).Values ?? [];
        var where = TagFilter.Translate(filter, _map.Model);
        var (skip, found) = (options?.Skip ?? 0, 0);
        var matches = MatchesAsync(where, options?.IncludeVectors == true, cancellationToken);
        if (sorts.Count > 0) matches = OrderedAsync(matches, sorts, cancellationToken);
        await foreach (var record in matches.ConfigureAwait(false))
        {
            if (skip-- > 0) continue;
            yield return record;
            if (++found == top) yield break;
        }
    }

    /// <summary>The most records an ordered get sorts: the API pages matches by document id, so the connector orders them.</summary>
    public const int MaxOrderedMatches = 10_000;

    private async IAsyncEnumerable<TRecord> MatchesAsync(System.Text.Json.Nodes.JsonObject? where, bool includeVectors, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var page in _client.AllDocumentIdsAsync(Name, where, ct).Chunk(500).ConfigureAwait(false))
            foreach (var document in await Run("Get", () => _client.GetDocumentContentsAsync(Name, page, includeVectors, ct)).ConfigureAwait(false))
                yield return _map.ToRecord<TRecord>(document, includeVectors);
    }

    private static async IAsyncEnumerable<TRecord> OrderedAsync(IAsyncEnumerable<TRecord> matches, IReadOnlyList<FilteredRecordRetrievalOptions<TRecord>.OrderByDefinition.SortInfo> sorts,
        [EnumeratorCancellation] CancellationToken ct)
    {
        var all = new List<TRecord>();
        await foreach (var record in matches.WithCancellation(ct).ConfigureAwait(false))
            if (all.Count < MaxOrderedMatches) all.Add(record);
            else throw new NotSupportedException($"an ordered get sorts at most {MaxOrderedMatches} matches in the connector; narrow the filter");
        IOrderedEnumerable<TRecord>? ordered = null;
        foreach (var sort in sorts)
        {
            var key = sort.PropertySelector.Compile();
            ordered = (ordered, sort.Ascending) switch
            {
                (null, true) => all.OrderBy(key, SortOrder.Instance),
                (null, false) => all.OrderByDescending(key, SortOrder.Instance),
                (_, true) => ordered.ThenBy(key, SortOrder.Instance),
                _ => ordered.ThenByDescending(key, SortOrder.Instance),
            };
        }
        foreach (var record in ordered!) yield return record;
    }

    // Nulls first, text by ordinal (as the API orders ids), the rest by their own order.
    private sealed class SortOrder : IComparer<object?>
    {
        public static readonly SortOrder Instance = new();
        public int Compare(object? x, object? y) => (x, y) switch
        {
            (null, null) => 0,
            (null, _) => -1,
            (_, null) => 1,
            (string a, string b) => string.CompareOrdinal(a, b),
            _ => Comparer<object>.Default.Compare(x, y),
        };
    }

    public override Task DeleteAsync(TKey key, CancellationToken cancellationToken = default) => Run("Delete", async () =>
    {
        try { await _client.DeleteDocumentAsync(Name, KeyText(key), cancellationToken).ConfigureAwait(false); }
        catch (RagClusterException e) when (e.StatusCode == HttpStatusCode.NotFound) { }
        return true;
    });

    public override Task DeleteAsync(IEnumerable<TKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return base.DeleteAsync(keys, cancellationToken);
    }

    public override Task UpsertAsync(TRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        return UpsertAsync([record], cancellationToken);
    }

    /// <summary>
    /// Writes the records as documents in batch requests (a refused one fails the call with its reason; the others are
    /// kept), then, with <see cref="RagClusterVectorStoreOptions.WaitForIndexing"/>, waits until they are indexed.
    /// </summary>
    public override Task UpsertAsync(IEnumerable<TRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        return UpsertManyAsync(records, cancellationToken);
    }

    private Task UpsertManyAsync(IEnumerable<TRecord> records, CancellationToken cancellationToken) => Run("Upsert", async () =>
    {
        var list = records.ToList();
        if (list.Count == 0) return true;
        _map.GenerateKeys(list);
        var vectors = _map.NeedsGeneration
            ? await _map.GenerateAllAsync(list, cancellationToken).ConfigureAwait(false)
            : list.Select(r => _map.StoredVector(r)).ToArray();
        var documents = list.Select((r, i) => _map.ToDocument(r, vectors[i])).ToList();
        var result = await _client.IngestManyAsync(Name, documents, ct: cancellationToken).ConfigureAwait(false);
        if (result.Rejected.Count > 0)
            throw new VectorStoreException($"{result.Rejected.Count} of {list.Count} records refused, e.g. '{result.Rejected[0].DocumentId}': {result.Rejected[0].Error?.Detail}");
        if (!_options.WaitForIndexing) return true;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.IndexingTimeout);
        var statuses = await _client.WaitForIndexedAsync(Name, documents.Select(d => d.Id), ct: timeout.Token).ConfigureAwait(false);
        if (statuses.Values.FirstOrDefault(s => s.Status != "indexed") is { } bad)
            throw new VectorStoreException($"record '{bad.DocumentId}' was not indexed: {bad.Status} {bad.Error}");
        return true;
    });

    /// <summary>The records nearest <paramref name="searchValue"/> (a vector, or an input for the embedding generator), by cosine similarity.</summary>
    public override IAsyncEnumerable<VectorSearchResult<TRecord>> SearchAsync<TInput>(TInput searchValue, int top, VectorSearchOptions<TRecord>? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(searchValue);
        RefuseVectorsOfGeneratedEmbeddings(options?.IncludeVectors == true);
        _map.Model.GetVectorPropertyOrSingle(options ?? new VectorSearchOptions<TRecord>()); // a record without one: the abstraction's InvalidOperationException
        return SearchCoreAsync(searchValue, null, top, options?.Skip ?? 0, options?.Filter, options?.IncludeVectors == true, options?.ScoreThreshold, "vector", cancellationToken);
    }

    /// <summary>
    /// Vector and BM25 over a full-text property (the single one, or the one <see cref="HybridSearchOptions{TRecord}.AdditionalProperty"/>
    /// names), fused by reciprocal rank (scores are fusion scores, not similarities).
    /// </summary>
    public IAsyncEnumerable<VectorSearchResult<TRecord>> HybridSearchAsync<TInput>(TInput searchValue, ICollection<string> keywords, int top,
        HybridSearchOptions<TRecord>? options = null, CancellationToken cancellationToken = default) where TInput : notnull
    {
        ArgumentNullException.ThrowIfNull(searchValue);
        ArgumentNullException.ThrowIfNull(keywords);
        RefuseVectorsOfGeneratedEmbeddings(options?.IncludeVectors == true);
        _map.Model.GetVectorPropertyOrSingle(new VectorSearchOptions<TRecord> { VectorProperty = options?.VectorProperty });
        // The abstraction's choice and words: the property named, else the only full-text one (InvalidOperationException otherwise).
        var field = _map.TextFieldOf(_map.Model.GetFullTextDataPropertyOrSingle(options?.AdditionalProperty));
        return SearchCoreAsync(searchValue, string.Join(' ', keywords), top, options?.Skip ?? 0, options?.Filter, options?.IncludeVectors == true, options?.ScoreThreshold,
            "hybrid", cancellationToken, field);
    }

    private async IAsyncEnumerable<VectorSearchResult<TRecord>> SearchCoreAsync<TInput>(TInput searchValue, string? text, int top, int skip,
        Expression<Func<TRecord, bool>>? filter, bool includeVectors, double? threshold, string plan, [EnumeratorCancellation] CancellationToken ct, string? textField = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        if (top + skip > MaxTopK) throw new ArgumentOutOfRangeException(nameof(top), $"RagCluster returns at most {MaxTopK} results a search (top + skip)");
        var vector = searchValue switch
        {
            ReadOnlyMemory<float> m => m.ToArray(),
            float[] a => a,
            Embedding<float> e => e.Vector.ToArray(),
            not null when _map.Model.VectorProperty.EmbeddingGenerator is not null => await _map.GenerateAsync(searchValue, ct).ConfigureAwait(false),
            // The abstraction's own words, as its other connectors say them.
            _ => throw new NotSupportedException($"A value of type '{CSharpName(typeof(TInput))}' was passed to 'SearchAsync', but that isn't a supported vector type by your provider and no embedding generator was configured. The supported vector types are: ReadOnlyMemory<float>, float[], Embedding<float>."),
        };
        var request = new SearchRequest(text) { Vector = vector, TopK = top + skip, Plan = plan, Filter = TagFilter.Translate(filter, _map.Model), TextField = textField };
        var reply = await Run("Search", () => _client.SearchAsync(Name, request, ct)).ConfigureAwait(false);
        // A vector search scores in the model's function (a distance: lower is nearer, and a threshold is a ceiling);
        // a hybrid search's scores are fusion scores either way.
        var asDistance = plan == "vector" && _map.VectorScore(0).LowerIsNearer;
        var hits = reply.Hits.DistinctBy(h => h.DocumentId).Skip(skip).Select(h => plan == "vector" ? h with { Score = _map.VectorScore(h.Score).Score } : h)
            .Where(h => threshold is null || (asDistance ? h.Score <= threshold : h.Score >= threshold)).ToList();
        if (hits.Count == 0) yield break;
        var documents = (await Run("Search", () => _client.GetDocumentContentsAsync(Name, hits.Select(h => h.DocumentId).ToList(), includeVectors, ct)).ConfigureAwait(false))
            .ToDictionary(d => d.DocumentId, StringComparer.Ordinal);
        foreach (var hit in hits)
            if (documents.TryGetValue(hit.DocumentId, out var document)) // one deleted between the search and the read is left out
                yield return new VectorSearchResult<TRecord>(_map.ToRecord<TRecord>(document, includeVectors), hit.Score);
    }

    public override object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(VectorStoreCollectionMetadata) ? _metadata
        : serviceType == typeof(RagClusterClient) ? _client
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    /// <summary>
    /// A record whose vector the embedding generator makes holds its input (text, say), not the vector, so there is no
    /// vector to give back in its place: refused as the abstraction's other connectors refuse it, with its words.
    /// </summary>
    private void RefuseVectorsOfGeneratedEmbeddings(bool includeVectors)
    {
        if (includeVectors && _map.Model.EmbeddingGenerationRequired)
            throw new NotSupportedException("When an embedding generator is configured, `Include Vectors` cannot be enabled.");
    }

    private static string KeyText(TKey key) => RecordMapper.KeyText(key);

    private static string CSharpName(Type type) => Type.GetTypeCode(type) switch
    {
        TypeCode.String => "string", TypeCode.Int32 => "int", TypeCode.Int64 => "long", TypeCode.Single => "float", TypeCode.Double => "double", TypeCode.Boolean => "bool",
        _ => type.Name,
    };

    /// <summary>The API's errors as the abstraction's: a VectorStoreException naming the store, collection and operation.</summary>
    private async Task<T> Run<T>(string operation, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (e is RagClusterException or HttpRequestException)
        {
            throw new VectorStoreException(e.Message, e)
            {
                VectorStoreSystemName = RagClusterVectorStore.SystemName, VectorStoreName = _metadata.VectorStoreName, CollectionName = Name, OperationName = operation,
            };
        }
    }
}
