using System.Net;

namespace RagCluster.Client;

public sealed partial class RagClusterClient
{
    /// <summary>The names of the caller's collections.</summary>
    public Task<string[]> ListCollectionsAsync(CancellationToken ct = default) => GetAsync<string[]>("v1/collections", ct);

    public Task<CollectionSettingsReply> CreateCollectionAsync(CreateCollectionRequest request, CancellationToken ct = default) =>
        SendJsonAsync<CollectionSettingsReply>(HttpMethod.Post, "v1/collections", request, ct);

    /// <summary>Creates the collection unless one of that name exists; true when this call created it.</summary>
    public async Task<bool> EnsureCollectionAsync(CreateCollectionRequest request, CancellationToken ct = default)
    {
        try
        {
            await CreateCollectionAsync(request, ct).ConfigureAwait(false);
            return true;
        }
        catch (RagClusterException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            return false;
        }
    }

    public Task<CollectionReply> GetCollectionAsync(string collection, CancellationToken ct = default) => GetAsync<CollectionReply>(CollectionPath(collection), ct);

    /// <summary>Changes chunking or the shard count; a new shard count reshards online (<see cref="CollectionSettingsReply.Resharding"/> set).</summary>
    public Task<CollectionSettingsReply> ConfigureCollectionAsync(string collection, ConfigureCollectionRequest request, CancellationToken ct = default) =>
        SendJsonAsync<CollectionSettingsReply>(HttpMethod.Put, CollectionPath(collection), request, ct);

    /// <summary>Deletes the collection with every document in it; safe to repeat after a failure part-way.</summary>
    public Task DeleteCollectionAsync(string collection, CancellationToken ct = default) => SendNoContentAsync(HttpMethod.Delete, CollectionPath(collection), ct);

    /// <summary>One page of the collection's document ids, after <paramref name="after"/>.</summary>
    public Task<DocumentIdsPage> ListDocumentIdsAsync(string collection, string? after = null, int? limit = null, CancellationToken ct = default) =>
        ListDocumentIdsAsync(collection, after, limit, null, ct);

    /// <summary>A page of the ids of documents with a chunk whose tags match <paramref name="filter"/> (anything that serializes to the filter language's JSON; null: every document).</summary>
    public Task<DocumentIdsPage> ListDocumentIdsAsync(string collection, string? after, int? limit, object? filter, CancellationToken ct = default)
    {
        var query = string.Join('&', new[]
        {
            after is null ? null : "after=" + Segment(after), limit is null ? null : $"limit={limit}",
            filter is null ? null : "filter=" + Uri.EscapeDataString(System.Text.Json.JsonSerializer.Serialize(filter, Json)),
        }.Where(q => q is not null));
        return GetAsync<DocumentIdsPage>($"{CollectionPath(collection)}/documents{(query.Length > 0 ? "?" + query : "")}", ct);
    }

    /// <summary>Every document id of the collection, page by page.</summary>
    public IAsyncEnumerable<string> AllDocumentIdsAsync(string collection, CancellationToken ct = default) => AllDocumentIdsAsync(collection, null, ct);

    /// <summary>Every id of a document with a chunk matching <paramref name="filter"/> (null: every document), page by page.</summary>
    public async IAsyncEnumerable<string> AllDocumentIdsAsync(string collection, object? filter, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        string? after = null;
        do
        {
            var page = await ListDocumentIdsAsync(collection, after, 1000, filter, ct).ConfigureAwait(false);
            foreach (var id in page.DocumentIds) yield return id;
            after = page.Next;
        } while (after is not null);
    }
}
