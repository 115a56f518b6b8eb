using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Serialization;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Persistence;
using RagCluster.Grains.Security;

namespace RagCluster.Grains.Documents;

/// <summary>
/// One document of a collection. Ingest stores the content durably and returns (status pending); indexing
/// then runs as turns of this grain: extract → chunk → embed → replace the document's chunks in every shard.
/// A pending document is resumed on activation and retried by a timer, so a silo crash mid-ingest only delays
/// it; shards replace a document's chunks by version, so a retry can never duplicate them.
/// </summary>
[Reentrant]
// Random, not Orleans' default (resource-optimised since 9.2, which favours the local silo): a batch submit activates
// a thousand documents in a burst, before any of them has loaded a silo, and they would all embed on the one taking it.
[Orleans.Placement.RandomPlacement]
public sealed partial class DocumentGrain(
    [PersistentState("document")] IPersistentState<DocumentState> stored, IGrainContext context, DeepCopier copier,
    Embedder embedder, IndexingSlots slots, DocumentSizes sizes, ILogger<DocumentGrain> log)
    : Grain, IDocumentGrain
{
    private static readonly TimeSpan RetryPeriod = TimeSpan.FromSeconds(2), WaitPeriod = TimeSpan.FromSeconds(4);
    // Reentrant (status reads must not wait for indexing); DurableState makes the writes take turns and shows readers
    // only what storage holds.
    private readonly DurableState<DocumentState> _state = new(stored, context, copier);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _indexing;
    private Task<bool>? _removing;
    private IGrainTimer? _retry;
    private bool _waitingForEmbedding;
    private string? _waitReason; // memory only: why the pending version waits, for status reads
    // The collection's stamps for this document's acceptances, named when it settles. Memory only: the collection's
    // sweep settles what a lost activation forgot.
    private readonly List<long> _acceptances = [];
    // Bytes this activation counts in the silo's backlog of documents waiting to be indexed; -1 when not counted.
    private long _queuedBytes = -1;
    // The state is a bulk write's registry record, not yet stored here (see OnActivateAsync).
    private bool _adopted;
    // This document's next version passes every version a bulk write gave before its acceptance: one such write cut off
    // by a crash may still reach a shard late, and the shard keeps the higher version.
    private long _versionFloor;
    private long NextVersion(long current) => Math.Max(current, _versionFloor) + 1;

    private string Collection => DocumentGrainKey.Parse(this.GetPrimaryKeyString()).CollectionKey;
    private string DocumentId => DocumentGrainKey.Parse(this.GetPrimaryKeyString()).DocumentId;

    // No registry read here: every call that reads or changes the document refreshes first (a batch's acceptance
    // brings what the registry held, so a new document's first call costs the collection no read).
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A document left pending (or half deleted) by a crash resumes shortly after activation, once it has settled.
        if (IsPending || IsRetagPending || _state.Current.RemovalPending) _retry = RegisterRetry(TimeSpan.FromMilliseconds(100));
        if (IsPending) // stored already, so it cannot be refused; it counts towards refusing new ones
        {
            _queuedBytes = _state.Current.PendingContent!.Length;
            slots.Queue(_queuedBytes);
        }
    }

    /// <summary>
    /// Whether a bulk write may have changed this document behind this activation: one written in bulk has its record in
    /// the collection's registry, not a state here, until this grain first changes it; and after a delete or a failure
    /// here a bulk write may write it anew. (Pending and indexed documents this grain stored are its own: the collection
    /// sends their bulk writes here.)
    /// </summary>
    private bool BulkMayChange => _adopted || !_state.RecordExists || _state.Current.Status is DocumentStatuses.Deleted or DocumentStatuses.Failed;

    /// <summary>Takes the registry's record when it is newer than what this activation holds (never while this grain writes).</summary>
    private async Task RefreshAsync(IngestRequest? request = null)
    {
        if (!BulkMayChange || _indexing is { IsCompleted: false } || _removing is { IsCompleted: false }) return;
        AdoptIfNewer(request is { RegistryRead: true } ? request.Registry : await GrainFactory.GetGrain<ICollectionRegistryGrain>(Collection).Record(DocumentId));
    }

    private void AdoptIfNewer(DocumentRecord? record)
    {
        // A text written in bulk is read pending first, then indexed at the same version.
        var finished = _adopted && record is { Pending: false } && record.Version == _state.Current.Version && _state.Current.Status == DocumentStatuses.Pending;
        if (record is not null && (record.Version > _state.Current.Version || finished) && _state.Adopt(FromRecord(record))) _adopted = true;
    }

    private static DocumentState FromRecord(DocumentRecord r) => new()
    {
        Status = r.Pending ? DocumentStatuses.Pending : DocumentStatuses.Indexed, Version = r.Version, IndexedVersion = r.Pending ? 0 : r.Version, ContentHash = r.ContentHash, ChunkCount = r.ChunkCount,
        UpdatedAt = r.UpdatedAt, Format = r.Format, Tags = r.Tags, ShardCount = r.ShardCount, HeldShards = r.HeldShards,
        LayoutGeneration = r.LayoutGeneration, FileName = r.FileName,
    };

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // A pass still running must not write after this activation is gone (the next one owns the document).
        _stopping.Cancel();
        if (_indexing is { IsCompleted: false } pass) await pass.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Current);
        LeaveQueue();
    }

    public async Task<DocumentStatus> Ingest(IngestRequest request)
    {
        if (!DocumentFormats.Supported.Contains(request.Format) && request.Format != OwnVectorChunks.Format)
            throw new InvalidRequestException($"unsupported format '{request.Format}'");
        await RefreshAsync(request);
        // Before anything else, so even whether the content is the same is none of a caller who cannot see it.
        if (await HiddenFromAsync(request.Writer)) throw DocumentWrites.Taken(DocumentId);
        var hash = Hash(request);
        var current = _state.Current;
        var alreadyHeld = hash == current.ContentHash && current.Status is DocumentStatuses.Pending or DocumentStatuses.Indexed;
        // New content waits for an indexing slot in this activation, holding the content: past the silo's backlog
        // bound it is refused before anything is noted or stored.
        if (!alreadyHeld && _queuedBytes < 0)
        {
            if (!slots.TryQueue(request.Content.Length))
                throw new IngestBacklogFullException($"this silo already holds {slots.QueuedDocuments} document(s) waiting to be indexed; nothing was stored, send it again later");
            _queuedBytes = request.Content.Length;
        }
        try
        {
            // The collection learns of the document before storage does, so no crash after this answer can strand it
            // (its sweep activates the document, which resumes). Only a resend of indexed content needs no notice.
            var (acceptedAt, incarnation) = (request.AcceptedAt, request.Incarnation);
            _versionFloor = Math.Max(_versionFloor, request.VersionFloor);
            if (acceptedAt == 0 && !(alreadyHeld && current.Status == DocumentStatuses.Indexed))
                (acceptedAt, incarnation) = await AcceptAsync(request);
            if (acceptedAt != 0) _acceptances.Add(acceptedAt);
            if (await StoreAsync(request, hash, acceptedAt, incarnation)) _adopted = false; // stored here: this grain's own from now on
        }
        finally
        {
            if (!IsPending) LeaveQueue(); // refused, failed, or nothing new
        }
        EnsureIndexing();
        return Snapshot();
    }

    /// <summary>
    /// Notes this document as accepted with its collection (see ICollectionGrain.DocumentsAccepted), within its tenant's
    /// share (TenantLimitExceededException: nothing is noted); refused while a bulk write of it is in flight.
    /// </summary>
    /// A delete or a retag (no <paramref name="request"/>) changes nothing the document holds.
    private async Task<(long Stamp, long Incarnation)> AcceptAsync(IngestRequest? request = null)
    {
        var collection = GrainFactory.GetGrain<ICollectionRegistryGrain>(Collection);
        StoredUsage[]? size = null;
        if (request is not null)
        {
            var settings = await collection.GetSettings();
            if (settings.Dimensions is null) await sizes.TokenizerLoaded; // the first text loads it: awaited, holding no thread
            size = [await Task.Run(() => sizes.Measure(request, settings))]; // a large PDF extracts for seconds: not in the grain's turn
        }
        await using var share = size is null ? null : await TenantShare.ReserveAsync(GrainFactory, Collection, [DocumentId], size);
        var acceptance = await collection.DocumentsAccepted([DocumentId], size);
        if (acceptance.Busy.Length > 0)
            throw new DocumentBusyException($"document '{DocumentId}' is being written by a bulk request; nothing was stored, send it again shortly");
        AdoptIfNewer(acceptance.Records[0]); // a bulk write that ended since the last look; none can begin now
        _versionFloor = Math.Max(_versionFloor, acceptance.VersionFloor);
        return (acceptance.Stamp, acceptance.Incarnation);
    }

    // Answered only once stored: a resend after a failed write finds storage's state, not the unwritten change.
    private Task<bool> StoreAsync(IngestRequest request, string hash, long acceptedAt, long incarnation) =>
        _state.UpdateAsync(s =>
        {
            if (hash == s.ContentHash && s.Status is DocumentStatuses.Pending or DocumentStatuses.Indexed)
            {
                // Same content: nothing new to index, but a newer acceptance of it (perhaps by a newer creation of the
                // collection) is this write's from now on.
                if (acceptedAt <= s.AcceptedStamp) return false;
                (s.AcceptedStamp, s.Incarnation) = (acceptedAt, incarnation);
                return true;
            }
            if (acceptedAt > s.AcceptedStamp) (s.AcceptedStamp, s.Incarnation) = (acceptedAt, incarnation);
            if (s.Version == 0) s.HeldShards = []; // new: no shard holds any of it
            else if (s.Status == DocumentStatuses.Pending || s.RemovalPending) s.HeldShards = null; // an unfinished pass or delete may have written anywhere
            s.Version = NextVersion(s.Version);
            s.Status = DocumentStatuses.Pending;
            s.TagsPending = false; // new content replaces a retag not yet done, tags and all
            s.ContentHash = hash;
            s.PendingContent = request.Content;
            s.Format = request.Format;
            s.FileName = request.FileName;
            s.Tags = request.Tags;
            s.Error = null;
            s.RemovalPending = false; // the new version's pass tells every shard and registers the document again
            s.UpdatedAt = DateTimeOffset.UtcNow;
            return true;
        });

    private void LeaveQueue()
    {
        if (_queuedBytes < 0) return;
        slots.Dequeue(_queuedBytes);
        _queuedBytes = -1;
    }

    public async Task<DocumentStatus> GetStatus()
    {
        await RefreshAsync();
        // A version still pending from a creation of the collection dropped since is none of the present one's: its pass
        // (started here if none runs) finds the collection gone and deletes it.
        if (IsPending && _state.Current.Incarnation != 0
            && !Owns(await GrainFactory.GetGrain<ICollectionGrain>(Collection).GetSettings(), _state.Current.Incarnation))
        {
            EnsureIndexing();
            return new DocumentStatus(Collection, DocumentId, DocumentStatuses.Unknown, 0, 0, null, null, _state.Current.UpdatedAt);
        }
        // Read from a bulk write's record and nothing to do: no activation stays behind (reading a bulk load's statuses
        // would otherwise keep one a document).
        if (_adopted && _indexing is null && _removing is null) this.DeactivateOnIdle();
        return Snapshot();
    }

    public async Task<RestoredDocument?> Export()
    {
        await RefreshAsync();
        var s = _state.Current;
        return s.Status == DocumentStatuses.Indexed
            ? new RestoredDocument(DocumentId, s.Version, s.ContentHash, s.ChunkCount, s.Tags, s.Format, s.FileName, s.UpdatedAt)
            : null;
    }

    /// <summary>What makes two submissions the same document content: format, tags and bytes (a resend of the same is a no-op).</summary>
    internal static string Hash(IngestRequest request)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(request.Format + "\n"));
        foreach (var (k, v) in request.Tags.OrderBy(t => t.Key, StringComparer.Ordinal)) sha.AppendData(Encoding.UTF8.GetBytes($"{k}={v}\n"));
        sha.AppendData(request.Content);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Whether <paramref name="caller"/> cannot see the document as it stands now (the access wall on writes,
    /// <see cref="DocumentWrites"/>); an id with no document, or a deleted one, hides nothing.
    /// </summary>
    private async Task<bool> HiddenFromAsync(ReadAccess? caller)
    {
        var s = _state.Current;
        if (caller is null or { Everything: true } || s.Version == 0 || s.Status is DocumentStatuses.Deleted or DocumentStatuses.Unknown) return false;
        var accessField = (await GrainFactory.GetGrain<ICollectionGrain>(Collection).GetSettings()).AccessField;
        return !DocumentWrites.Allowed(accessField, caller, s.Tags);
    }

    private DocumentStatus Snapshot()
    {
        var s = _state.Current;
        return new DocumentStatus(Collection, DocumentId, s.Version == 0 ? DocumentStatuses.Unknown : s.Status, s.Version, s.ChunkCount, s.Error, s.ContentHash, s.UpdatedAt)
        {
            AcceptedStamp = s.AcceptedStamp,
            Waiting = s.Status == DocumentStatuses.Pending ? _waitReason : null,
            Tags = s.Tags, // DurableState never changes a state in place: a new version is a new dictionary
        };
    }
}
