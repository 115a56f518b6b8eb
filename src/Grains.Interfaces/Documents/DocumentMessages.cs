using RagCluster.Grains.Interfaces.Collections;

namespace RagCluster.Grains.Interfaces.Documents;

// Wire and stored types: Orleans serializers are generated for them; primary-constructor members get ids in
// declaration order, so new members go at the end. [Alias] keeps stored state readable across renames and moves.
// [Immutable]: values never changed after they are sent, so Orleans skips the defensive copy on local calls.

public static class DocumentStatuses
{
    public const string Pending = "pending", Indexed = "indexed", Failed = "failed", Deleted = "deleted";
    /// <summary>A document never ingested (its grain holds no version).</summary>
    public const string Unknown = "unknown";

    /// <summary>Never ingested, or deleted: what reading the document answers as not found.</summary>
    public static bool IsGone(string status) => status is Unknown or Deleted;
}

/// <summary>A document as submitted: raw bytes and the format they are in (txt, md, html, json, docx, pdf).</summary>
/// <param name="Format">txt, md, html, json, docx or pdf.</param>
/// <param name="Content">The document's bytes.</param>
/// <param name="Tags">Its tags (part of its content hash).</param>
/// <param name="FileName">The uploaded file's name, when it came as a file.</param>
/// <param name="AcceptedAt">Not 0: the caller already told the collection (DocumentsAccepted) about this document, as a
/// batch does for all its documents in one write, and this is the stamp the collection answered; the document then
/// skips its own notice, and names the stamp when it tells the collection it has settled.</param>
/// <param name="VersionFloor">With <paramref name="AcceptedAt"/>: the acceptance's <see cref="Acceptance.VersionFloor"/>.</param>
/// <param name="RegistryRead">The collection's registry was read for this document when it was accepted (a batch's
/// acceptance reads every id's row), so the grain need not ask again.</param>
/// <param name="Registry">With <paramref name="RegistryRead"/>: what the registry held.</param>
[GenerateSerializer, Immutable, Alias("rc.IngestRequest")]
public sealed record IngestRequest(string Format, byte[] Content, Dictionary<string, string> Tags, string? FileName, long AcceptedAt = 0, long VersionFloor = 0,
    bool RegistryRead = false, DocumentRecord? Registry = null)
{
    /// <summary>The incarnation of the collection that accepted it (with <see cref="AcceptedAt"/>; see <see cref="CollectionSettings.Incarnation"/>).</summary>
    [Id(8)] public long Incarnation { get; init; }
    /// <summary>
    /// Who writes, for the access wall (the grains' <c>DocumentWrites</c>): a document of the id that this caller cannot
    /// see is not replaced. Null only for the cluster's own writes (a re-tag, a restore, the sweep).
    /// </summary>
    [Id(9)] public Security.ReadAccess? Writer { get; init; }
}

[GenerateSerializer, Immutable, Alias("rc.DocumentStatus")]
public sealed record DocumentStatus(string Collection, string DocumentId, string Status, long Version, int ChunkCount,
    string? Error, string? ContentHash, DateTimeOffset UpdatedAt)
{
    /// <summary>
    /// The collection's acceptance stamp of the write this state holds (0: none known, e.g. written in bulk or before
    /// stamps were kept): the sweep lets an acceptance go only once the document holds that write or a later one.
    /// </summary>
    [Id(8)] public long AcceptedStamp { get; init; }
    /// <summary>Why a pending document is not being indexed now (no silo can embed it); null while it is not held up.</summary>
    [Id(9)] public string? Waiting { get; init; }
    /// <summary>The tags of the version this status is of (stored form), so a read can tell whether its caller may see it.</summary>
    [Id(10)] public Dictionary<string, string>? Tags { get; init; }
}

/// <summary>
/// What a document written in bulk is, kept in its collection's registry instead of a grain state of its own (a bulk
/// load writes one registry row a document in one transaction a batch). The document grain takes it over, as its own
/// state, the first time the document is changed through it.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.DocumentRecord")]
public sealed record DocumentRecord(long Version, string ContentHash, int ChunkCount, Dictionary<string, string> Tags, string Format,
    int LayoutGeneration, int ShardCount, int[] HeldShards, DateTimeOffset UpdatedAt)
{
    /// <summary>The uploaded file's name, when it came as a file (a restore brings it back).</summary>
    [Id(9)] public string? FileName { get; init; }
    /// <summary>Accepted by a batch's bulk pass and not indexed yet (the collection holds the content until it is).</summary>
    [Id(10)] public bool Pending { get; init; }
}
