namespace RagCluster.Grains.Interfaces.Aliases;

// Wire and stored types: Orleans serializers are generated for them; primary-constructor members get ids in
// declaration order, so new members go at the end. [Alias] keeps stored state readable across renames and moves.

/// <summary>An alias and the collection it names (both of one tenant), and when it was last set.</summary>
[GenerateSerializer, Immutable, Alias("rc.CollectionAlias")]
public sealed record CollectionAlias(string Alias, string Collection, DateTimeOffset UpdatedAt);
