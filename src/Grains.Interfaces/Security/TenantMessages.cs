namespace RagCluster.Grains.Interfaces.Security;

/// <summary>
/// What a tenant may store, set by an operator: each null is unlimited. Vectors are chunks (one vector each, with the
/// cluster's model or the caller's own); bytes are the documents' content as sent (text, file or vectors), not the
/// index's own overhead, so a team can work its share out before it writes.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.TenantLimits")]
public sealed record TenantLimits(long? Collections, long? Documents, long? Vectors, long? Bytes)
{
    public static readonly TenantLimits None = new(null, null, null, null);

    public bool Any => Collections is not null || Documents is not null || Vectors is not null || Bytes is not null;

    /// <summary>The first limit out of range, or null.</summary>
    public string? Problem() =>
        (Collections, Documents, Vectors, Bytes) switch
        {
            ({ } c, _, _, _) when c < 0 => "collections must not be negative",
            (_, { } d, _, _) when d < 0 => "documents must not be negative",
            (_, _, { } v, _) when v < 0 => "vectors must not be negative",
            (_, _, _, { } b) when b < 0 => "bytes must not be negative",
            _ => null,
        };
}

/// <summary>What a collection (or one document, or one write) holds: documents, vectors (chunks) and content bytes.</summary>
[GenerateSerializer, Immutable, Alias("rc.StoredUsage")]
public sealed record StoredUsage(long Documents, long Vectors, long Bytes)
{
    public static readonly StoredUsage Zero = new(0, 0, 0);

    public static StoredUsage operator +(StoredUsage a, StoredUsage b) => new(a.Documents + b.Documents, a.Vectors + b.Vectors, a.Bytes + b.Bytes);
    public static StoredUsage operator -(StoredUsage a, StoredUsage b) => new(a.Documents - b.Documents, a.Vectors - b.Vectors, a.Bytes - b.Bytes);

    /// <summary>Only what grows (a write that shrinks the vectors still adds bytes, say).</summary>
    public StoredUsage Growth => new(Math.Max(0, Documents), Math.Max(0, Vectors), Math.Max(0, Bytes));

    public bool IsZero => Documents == 0 && Vectors == 0 && Bytes == 0;
}

/// <summary>A tenant's usage now: its collections and what they hold, each collection's share, and its limits.</summary>
[GenerateSerializer, Immutable, Alias("rc.TenantUsage")]
public sealed record TenantUsage(string Tenant, long Collections, StoredUsage Stored, Dictionary<string, StoredUsage> ByCollection, TenantLimits Limits);
