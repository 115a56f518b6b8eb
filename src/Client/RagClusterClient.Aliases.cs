namespace RagCluster.Client;

public sealed partial class RagClusterClient
{
    /// <summary>The caller's aliases, each with the collection it names.</summary>
    public Task<AliasReply[]> ListAliasesAsync(CancellationToken ct = default) => GetAsync<AliasReply[]>("v1/aliases", ct);

    public Task<AliasReply> GetAliasAsync(string alias, CancellationToken ct = default) => GetAsync<AliasReply>($"v1/aliases/{Segment(alias)}", ct);

    /// <summary>
    /// Creates <paramref name="alias"/> or moves it to <paramref name="collection"/> in one step: every call that names the
    /// alias (search, ask, ingest, reads) uses the old collection or the new one, never both.
    /// </summary>
    public Task<AliasReply> SetAliasAsync(string alias, string collection, CancellationToken ct = default) =>
        SendJsonAsync<AliasReply>(HttpMethod.Put, $"v1/aliases/{Segment(alias)}", new SetAliasRequest(collection), ct);

    /// <summary>Deletes the alias; the collection it named stays.</summary>
    public Task DeleteAliasAsync(string alias, CancellationToken ct = default) => SendNoContentAsync(HttpMethod.Delete, $"v1/aliases/{Segment(alias)}", ct);
}
