using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Grains.Interfaces.Documents;

/// <summary>One document of a batch, parsed and checked at the door. Immutable: a call on the same silo does not copy its bytes.</summary>
[GenerateSerializer, Immutable, Alias("rc.DocumentBatchItem")]
public sealed record DocumentBatchItem([property: Id(0)] string Id, [property: Id(1)] IngestRequest Request);

/// <summary>What became of one document of a batch: its status once accepted, or why it was refused.</summary>
[GenerateSerializer, Immutable, Alias("rc.DocumentBatchResult")]
public sealed record DocumentBatchResult([property: Id(0)] DocumentStatus? Status, [property: Id(1)] DocumentRefusal? Refusal);
