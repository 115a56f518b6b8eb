namespace RagCluster.Grains.Interfaces.Security;

// Wire and stored types: Orleans serializers are generated for them; primary-constructor members get ids in
// declaration order, so new members go at the end. [Alias] keeps stored state readable across renames and moves.
// [Immutable]: values never changed after they are sent, so Orleans skips the defensive copy on local calls.

/// <summary>A key as admins see it; <see cref="Secret"/> is only set in the reply that created or rotated it.</summary>
[GenerateSerializer, Immutable, Alias("rc.ApiKeyInfo")]
public sealed record ApiKeyInfo(string KeyId, string Tenant, string Role, string Description, DateTimeOffset CreatedAt,
    DateTimeOffset? RevokedAt, string? Secret, int RoleSchema = Roles.CurrentSchema)
{
    /// <summary>The groups whose documents the key reads in collections with an access field (<see cref="ReadAccess"/>).</summary>
    [Id(8)] public string[] Groups { get; init; } = [];
}

[GenerateSerializer, Immutable, Alias("rc.ApiKeyCheck")]
public sealed record ApiKeyCheck(bool Valid, string? Tenant, string? Role, string? Reason, int RoleSchema = Roles.CurrentSchema)
{
    public const string UnknownKey = "unknown key", Revoked = "key revoked", WrongSecret = "wrong secret";

    /// <summary>Whether the key id named an existing key (so a failure is a guess at that key's secret).</summary>
    public bool KeyExists => Valid || Reason is WrongSecret or Revoked;

    /// <summary>A valid key's groups (<see cref="ApiKeyInfo.Groups"/>).</summary>
    [Id(5)] public string[] Groups { get; init; } = [];
}
