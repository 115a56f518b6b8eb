using RagCluster.Grains.Interfaces.Collections;

namespace RagCluster.Grains.Collections;

/// <summary>
/// How collections were stored before their registry moved to rows: one Orleans state rewritten whole on every change.
/// Read only to move an old collection into rows on its first activation, then cleared.
/// </summary>
[GenerateSerializer, Alias("rc.CollectionState")]
public sealed class CollectionState
{
    [Id(0)] public CollectionSettings? Settings { get; set; }
    [Id(1)] public long Version { get; set; }
    [Id(2)] public HashSet<string> Documents { get; set; } = [];
    [Id(3)] public bool Deleting { get; set; }
    [Id(4)] public Dictionary<string, DateTime> Unsettled { get; set; } = [];
}

/// <summary>
/// What a collection always holds in memory: its settings (null before Create and after Drop), the version that cache
/// keys include (every change moves it on, and it is never reused), and whether a delete has begun (from then on no
/// document may register, until Drop ends it).
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.CollectionHead")]
public sealed record CollectionHead(CollectionSettings? Settings, long Version, bool Deleting)
{
    /// <summary>The highest shard layout generation this collection ever used: a re-created collection starts past it, on shards never written.</summary>
    [Id(3)] public int HighestGeneration { get; init; }
    /// <summary>The last version a bulk write gave a document: the next is past it (and past the clock's ticks), so versions never repeat.</summary>
    [Id(4)] public long LastBulkVersion { get; init; }
    /// <summary>While a restore fills the collection: when its lease lapses (UTC ticks); 0 otherwise. See Restoring.</summary>
    [Id(5)] public long RestoringUntil { get; init; }
    /// <summary>What the documents of this creation hold (see CollectionGrain.Usage.cs); null: nothing yet.</summary>
    [Id(6)] public Interfaces.Security.StoredUsage? Held { get; init; }
}
