using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Indexing;

namespace RagCluster.Grains.Interfaces.Backup;

// Wire and stored types: Orleans serializers are generated for them; primary-constructor members get ids in
// declaration order, so new members go at the end. [Alias] keeps stored state readable across renames and moves.
// [Immutable]: values never changed after they are sent, so Orleans skips the defensive copy on local calls.

/// <summary>A restore's start: the collection it created (not visible until the restore ends), the first of the versions it set aside for the documents, and how long the restore's lease lasts unrenewed.</summary>
[GenerateSerializer, Immutable, Alias("rc.RestoreStart")]
public sealed record RestoreStart(CollectionSettings Settings, long FirstVersion, TimeSpan Lease);

/// <summary>A document as a backup records it: an indexed version with its tags and provenance.</summary>
[GenerateSerializer, Immutable, Alias("rc.RestoredDocument")]
public sealed record RestoredDocument(string DocumentId, long Version, string? ContentHash, int ChunkCount, Dictionary<string, string> Tags,
    string? Format, string? FileName, DateTimeOffset UpdatedAt);

/// <summary><see cref="NextCursor"/> is -1 when the shard has no more chunks.</summary>
[GenerateSerializer, Immutable, Alias("rc.ShardExportPage")]
public sealed record ShardExportPage(ChunkRecord[] Chunks, Dictionary<string, long> DocumentVersions, int NextCursor);

/// <summary>An archive written or restored: the collection it was made from and when, the documents and chunks it holds, and the files a restore skipped.</summary>
[GenerateSerializer, Immutable, Alias("rc.ArchiveSummary")]
public sealed record ArchiveSummary(string From, DateTimeOffset CreatedAt, int Documents, int Chunks, string[] Skipped);
