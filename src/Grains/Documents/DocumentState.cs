using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;

namespace RagCluster.Grains.Documents;

/// <summary>What a document grain stores: its status and versions, and its content until that version is indexed.</summary>
[GenerateSerializer, Alias("rc.DocumentState")]
public sealed class DocumentState
{
    [Id(0)] public string Status { get; set; } = DocumentStatuses.Pending;
    [Id(1)] public long Version { get; set; }
    [Id(2)] public long IndexedVersion { get; set; }
    [Id(3)] public string? ContentHash { get; set; }
    [Id(4)] public int ChunkCount { get; set; }
    [Id(5)] public string? Error { get; set; }
    [Id(6)] public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>
    /// Kept only while indexing is pending, so a silo crash mid-ingest loses nothing. Never changed in place (a new
    /// version brings a new array), so the copy each state change makes shares it rather than copying up to the upload
    /// limit again (Orleans' copier skips members marked immutable).
    /// </summary>
    [Id(7), Immutable] public byte[]? PendingContent { get; set; }
    [Id(8)] public string? Format { get; set; }
    [Id(9)] public string? FileName { get; set; }
    [Id(10)] public Dictionary<string, string> Tags { get; set; } = [];
    [Id(11)] public int ShardCount { get; set; }
    /// <summary>
    /// The shards that may hold chunks of this document (of <see cref="ShardCount"/>); null when not known (a pass
    /// that never finished may have written anywhere, and documents saved before this field existed), so all are told.
    /// </summary>
    [Id(12)] public int[]? HeldShards { get; set; }
    /// <summary>Deleted, but the shards or the collection may not have been told yet: a repeated delete (or the next activation) finishes it.</summary>
    [Id(13)] public bool RemovalPending { get; set; }
    /// <summary>The shard layout generation <see cref="HeldShards"/> and <see cref="ShardCount"/> refer to (see ShardLayout).</summary>
    [Id(14)] public int LayoutGeneration { get; set; }
    /// <summary>The collection's acceptance stamp of the stored version (see <see cref="DocumentStatus.AcceptedStamp"/>).</summary>
    [Id(15)] public long AcceptedStamp { get; set; }
    /// <summary>The creation of the collection that accepted the stored version (0: not known); see <see cref="CollectionSettings.Incarnation"/>.</summary>
    [Id(16)] public long Incarnation { get; set; }
    /// <summary>The pending version changes tags alone (its chunks keep their text and vectors; no content is held).</summary>
    [Id(17)] public bool TagsPending { get; set; }
}
