using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Interfaces.Collections;

/// <summary>
/// Key: "tenant.collection". The collection's registry protocol, for the grains and workflows that write documents
/// (document grains, bulk writes, the sweep's partners), not for adapters: acceptances, bulk begin and end, registration,
/// records and the collection's share of its tenant. The same grain as <see cref="ICollectionGrain"/>, whose face it extends.
/// </summary>
[Alias("rc.ICollectionRegistryGrain")]
public interface ICollectionRegistryGrain : ICollectionGrain
{
    /// <summary>
    /// Interleaves: changes that arrive while the registry is being written share the next write. Registering
    /// (<paramref name="present"/>) fails with CollectionGoneException once a delete has begun. The caller names the
    /// layout generations its shard writes reached (null: generation 0 alone); one that missed a layout the collection
    /// now writes gets ShardLayoutChangedException and writes again. A document accepted by another
    /// <paramref name="incarnation"/> (0: unknown) is not this collection's: registering it fails with
    /// CollectionGoneException, and its removal changes nothing.
    /// </summary>
    [AlwaysInterleave]
    Task<long> DocumentChanged(string documentId, bool present, int[] wroteLayouts, long incarnation = 0);
    /// <summary>Many documents registered in one write (a restore), written to the shards of <paramref name="wroteLayout"/>.</summary>
    [AlwaysInterleave]
    Task<long> DocumentsAdded(string[] documentIds, int wroteLayout, long incarnation = 0);
    /// <summary>
    /// Records documents about to be stored as pending, before they are: until each settles (indexed, failed or
    /// deleted) the collection keeps a reminder whose sweep activates it, so no crash can strand it. Returns the
    /// acceptance's stamp (the clock's ticks, made unique within the collection's activation), which the document
    /// names in <see cref="DocumentSettled"/>. Fails with CollectionGoneException once a delete has begun.
    /// </summary>
    /// A document a bulk write has in flight is not accepted: it is named in <see cref="Acceptance.Busy"/>, and nothing
    /// of it is noted.
    /// <remarks>
    /// With <paramref name="sizes"/> (what each document will hold), each accepted document counts in the collection's
    /// <see cref="Held"/> from now on, in the same write.
    /// </remarks>
    [AlwaysInterleave]
    Task<Acceptance> DocumentsAccepted(string[] documentIds, StoredUsage[]? sizes = null);
    /// <summary>
    /// The first step of a bulk write (documents that need no pipeline: one chunk, vectors given): for each entry the
    /// collection decides, in its one order of changes, whether the bulk path may write it and at which version, and
    /// notes those it may as in flight (stored before it returns), so a crash before <see cref="EndBulk"/> is settled by
    /// the sweep, and no grain-path write of the same id interleaves. Fails with CollectionGoneException once a delete has begun.
    /// </summary>
    [AlwaysInterleave]
    Task<BulkAcceptance> BeginBulk(BulkEntry[] entries);
    /// <summary>
    /// The last step of a bulk write, once every layout's shards hold the records' chunks: each document is registered
    /// with its record (one write for all). A record whose in-flight note was replaced meanwhile (a newer write of the
    /// same id) is skipped. ShardLayoutChangedException: the caller missed a layout, and writes again.
    /// </summary>
    /// False: the collection is being deleted (or was, and was created again since <paramref name="incarnation"/>
    /// accepted them), nothing was registered, and the caller takes the chunks out of the shards.
    [AlwaysInterleave]
    Task<bool> EndBulk(string[] documentIds, DocumentRecord[] records, int[] wroteLayouts, long incarnation = 0);
    /// <summary>The registry's record of a document written in bulk and not taken over by its grain since, or null.</summary>
    [AlwaysInterleave]
    Task<DocumentRecord?> Record(string documentId);
    /// <summary>
    /// <see cref="Record"/> for many documents in one call (two reads a call): for each id the record of a document written
    /// in bulk (pending while its text indexes), or null when only the document's own grain can say (it owns the
    /// document, is writing it, or the registry has no row of it).
    /// </summary>
    [AlwaysInterleave]
    Task<DocumentRecord?[]> BulkRecords(string[] documentIds);
    /// <summary>
    /// A document has settled since the acceptances stamped <paramref name="acceptedAt"/>: those records go, unless
    /// the document was accepted again since (a newer stamp stays). Without it the sweep finds the document settled,
    /// but only by activating it, which after a bulk load is every document again.
    /// </summary>
    [AlwaysInterleave]
    Task DocumentSettled(string documentId, long[] acceptedAt);
    /// <summary>What this creation of the collection holds, for its tenant's share (zero once dropped).</summary>
    [AlwaysInterleave]
    Task<StoredUsage> Held();
    /// <summary>
    /// How much accepting these documents with these sizes would change what the collection holds (new ids count as
    /// documents; a replaced one counts its difference). Read, not reserved: the tenant reserves it.
    /// </summary>
    [AlwaysInterleave]
    Task<StoredUsage> Growth(string[] documentIds, StoredUsage[] sizes);
}
