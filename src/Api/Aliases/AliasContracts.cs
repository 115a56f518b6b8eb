namespace RagCluster.Api.Aliases;

/// <summary>The body of PUT /v1/aliases/{alias}: the collection the alias is to name (created or moved in one step).</summary>
public sealed record SetAliasRequest(string? Collection);

/// <summary>An alias, the collection it names, and when it was last set.</summary>
public sealed record AliasReply(string Alias, string Collection, DateTimeOffset UpdatedAt);
