namespace RagCluster.Client;

public sealed partial class RagClusterClient
{
    /// <summary>A new key; its secret (<see cref="ApiKeyReply.Key"/>) is shown only in this reply.</summary>
    public Task<ApiKeyReply> CreateKeyAsync(CreateKeyRequest request, CancellationToken ct = default) =>
        SendJsonAsync<ApiKeyReply>(HttpMethod.Post, "v1/admin/keys", request, ct);

    /// <summary>The keys of the caller's tenant (operators: of <paramref name="tenant"/>, or every tenant).</summary>
    public Task<ApiKeyReply[]> ListKeysAsync(string? tenant = null, CancellationToken ct = default) =>
        GetAsync<ApiKeyReply[]>("v1/admin/keys" + (tenant is null ? "" : "?tenant=" + Segment(tenant)), ct);

    public Task<ApiKeyReply> GetKeyAsync(string keyId, CancellationToken ct = default) => GetAsync<ApiKeyReply>($"v1/admin/keys/{Segment(keyId)}", ct);

    /// <summary>Replaces the key's groups (its read rights in collections with an access field); its next requests use them.</summary>
    public Task<ApiKeyReply> SetKeyGroupsAsync(string keyId, IEnumerable<string> groups, CancellationToken ct = default) =>
        SendJsonAsync<ApiKeyReply>(HttpMethod.Patch, $"v1/admin/keys/{Segment(keyId)}", new UpdateKeyRequest([.. groups]), ct);

    /// <summary>Replaces the key's secret: the old one stops working at once.</summary>
    public Task<ApiKeyReply> RotateKeyAsync(string keyId, CancellationToken ct = default) =>
        SendJsonAsync<ApiKeyReply>(HttpMethod.Post, $"v1/admin/keys/{Segment(keyId)}/rotate", null, ct);

    public Task<ApiKeyReply> RevokeKeyAsync(string keyId, CancellationToken ct = default) =>
        SendJsonAsync<ApiKeyReply>(HttpMethod.Delete, $"v1/admin/keys/{Segment(keyId)}", null, ct);

    /// <summary>
    /// The audit trail, newest first: the last 24 hours unless <paramref name="from"/>/<paramref name="to"/> say otherwise
    /// (at most 31 days), of the caller's tenant (operators: of <paramref name="tenant"/>, or every tenant).
    /// </summary>
    public Task<AuditEntry[]> ReadAuditAsync(DateTimeOffset? from = null, DateTimeOffset? to = null, string? tenant = null, string? keyId = null,
        int? limit = null, CancellationToken ct = default)
    {
        var query = new List<string>();
        if (from is { } f) query.Add("from=" + Uri.EscapeDataString(f.ToString("O")));
        if (to is { } t) query.Add("to=" + Uri.EscapeDataString(t.ToString("O")));
        if (tenant is not null) query.Add("tenant=" + Uri.EscapeDataString(tenant));
        if (keyId is not null) query.Add("keyId=" + Uri.EscapeDataString(keyId));
        if (limit is { } l) query.Add("limit=" + l.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return GetAsync<AuditEntry[]>("v1/admin/audit" + (query.Count == 0 ? "" : "?" + string.Join('&', query)), ct);
    }

    /// <summary>The cluster's embedding: whether it can embed now, and each silo's roles, device and throughput.</summary>
    public Task<EmbeddingReply> GetEmbeddingAsync(CancellationToken ct = default) => GetAsync<EmbeddingReply>("v1/embedding", ct);
}
