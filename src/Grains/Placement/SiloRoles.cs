namespace RagCluster.Grains.Placement;

/// <summary>
/// What a silo offers beyond the grains every silo hosts (<c>Silo:Roles</c>, comma-separated). Today one role:
/// <c>embedding</c>, the silo runs model inferences; embedding grains are placed only on such silos, and a silo
/// without it sends its texts to one. The default is every role, so a cluster that sets nothing behaves as one kind
/// of silo; <c>none</c> (or an empty value) offers none.
/// </summary>
public sealed class SiloRoles
{
    public const string Embedding = "embedding";

    /// <summary>The silo metadata key (Orleans' silo metadata, read by placement on every silo) that carries the roles.</summary>
    public const string MetadataKey = "ragcluster.roles";

    private static readonly string[] Known = [Embedding];

    public static SiloRoles All { get; } = new(Known);

    private SiloRoles(IEnumerable<string> roles) => Names = [.. roles.Order(StringComparer.Ordinal)];

    public IReadOnlyList<string> Names { get; }

    public bool Has(string role) => Names.Contains(role, StringComparer.Ordinal);

    public bool Embeds => Has(Embedding);

    /// <summary>Comma-separated, as configured and as in the silo's metadata ("" for none).</summary>
    public override string ToString() => string.Join(',', Names);

    /// <summary>Null (not configured) means every role.</summary>
    /// <exception cref="ArgumentException">An unknown role; the message lists the known ones.</exception>
    public static SiloRoles Parse(string? value)
    {
        if (value is null) return All;
        var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => n.ToLowerInvariant()).Distinct().ToList();
        if (names is ["none"] or []) return None;
        if (names.FirstOrDefault(n => !Known.Contains(n)) is { } unknown)
            throw new ArgumentException($"Silo:Roles '{value}' names an unknown role '{unknown}'; known: {string.Join(", ", Known)} (or none)");
        return new(names);
    }

    /// <summary>
    /// The roles in a silo's metadata. None where the key is missing: Orleans answers empty metadata for a silo it has
    /// not asked yet (one that just joined), and sending work there before it says what it offers could be wrong.
    /// </summary>
    public static SiloRoles FromMetadata(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(MetadataKey, out var value) ? Parse(value) : None;

    public static SiloRoles None { get; } = new([]);
}
