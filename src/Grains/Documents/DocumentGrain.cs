using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Chunking;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Extraction;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.OwnVectors;
using RagCluster.Grains.Persistence;
using RagCluster.Grains.Text;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace RagCluster.Grains.Documents;

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
}

/// <summary>
/// One document of a collection. Ingest stores the content durably and returns (status pending); indexing
/// then runs as turns of this grain: extract → chunk → embed → replace the document's chunks in every shard.
/// A pending document is resumed on activation and retried by a timer, so a silo crash mid-ingest only delays
/// it; shards replace a document's chunks by version, so a retry can never duplicate them.
/// </summary>
[Reentrant]
// Random, not Orleans' default (resource-optimised since 9.2, which favours the local silo): a batch submit activates
// a thousand documents in a burst, before any of them has loaded a silo. With the default, the silo taking the request
// embedded alone for the last 13 s of a 64 s ingest on 3 silos; with random placement all three finished within 2 s.
[Orleans.Placement.RandomPlacement]
public sealed class DocumentGrain(
    [PersistentState("document")] IPersistentState<DocumentState> stored, IGrainContext context, DeepCopier copier,
    Embedder embedder, IndexingSlots slots, ILogger<DocumentGrain> log)
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
        if (IsPending || _state.Current.RemovalPending) _retry = RegisterRetry(TimeSpan.FromMilliseconds(100));
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
        AdoptIfNewer(request is { RegistryRead: true } ? request.Registry : await GrainFactory.GetGrain<ICollectionGrain>(Collection).Record(DocumentId));
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
        if (!DocumentExtractor.SupportedFormats.Contains(request.Format) && request.Format != OwnVectorChunks.Format)
            throw new InvalidRequestException($"unsupported format '{request.Format}'");
        await RefreshAsync(request);
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
                (acceptedAt, incarnation) = await AcceptAsync();
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

    /// <summary>Notes this document as accepted with its collection (see ICollectionGrain.DocumentsAccepted); refused while a bulk write of it is in flight.</summary>
    private async Task<(long Stamp, long Incarnation)> AcceptAsync()
    {
        var acceptance = await GrainFactory.GetGrain<ICollectionGrain>(Collection).DocumentsAccepted([DocumentId]);
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

    /// <summary>
    /// Deleted is stored first (with <see cref="DocumentState.RemovalPending"/>), then every shard and the collection are
    /// told, then the flag is cleared. A failure part-way leaves the flag, so repeating the call (or the next activation)
    /// finishes the job; a pass never runs beside it.
    /// </summary>
    public async Task<bool> Delete()
    {
        if (_indexing is not null) await _indexing.ContinueWith(_ => { }, TaskScheduler.Current); // let a running pass finish first
        if (_removing is { IsCompleted: false } running) return await running;
        await RefreshAsync();
        var task = DeleteAsync();
        _removing = task;
        return await task;
    }

    private async Task<bool> DeleteAsync()
    {
        // A bulk-written document is noted as accepted first: until the delete has finished, bulk writes of it take the
        // grain path (they would otherwise register a version this delete then unregisters), and the sweep finishes a
        // delete a crash cut off.
        if (_adopted && _state.Current.Status != DocumentStatuses.Deleted)
        {
            try { _acceptances.Add((await AcceptAsync()).Stamp); }
            catch (CollectionGoneException) { } // the collection's own delete: no bulk write can begin any more
        }
        long deletedAt = 0;
        await _state.UpdateAsync(s =>
        {
            if (s.Version == 0 || s.Status == DocumentStatuses.Deleted)
            {
                deletedAt = s.RemovalPending ? s.Version : 0; // nothing there, or a delete to finish (its version, read in the turn)
                return false;
            }
            s.Version = NextVersion(s.Version);
            s.Status = DocumentStatuses.Deleted;
            s.PendingContent = null;
            s.ContentHash = null;
            s.ChunkCount = 0;
            s.HeldShards = null; // every shard is told
            s.RemovalPending = true;
            s.UpdatedAt = DateTimeOffset.UtcNow;
            deletedAt = s.Version;
            return true;
        });
        if (deletedAt == 0) return false;
        _adopted = false;
        _retry?.Dispose();
        _retry = null;
        // Every shard of every layout the collection writes (two while it reshards) is told; if the layouts change
        // before the collection hears of it, it refuses, and the new ones are told. So are the shards the document was
        // last indexed in, if they differ (a collection dropped meanwhile reads default settings) and are not retired.
        // A document of a creation of the collection that was dropped since tells only the shards it was indexed in
        // (retired with their collection, or retiring): the collection serving under the name now has none of it.
        var indexedIn = _state.Current.ShardCount > 0 ? new ShardLayout(_state.Current.LayoutGeneration, _state.Current.ShardCount) : null;
        var incarnation = _state.Current.Incarnation;
        await WithCurrentLayouts(async settings =>
        {
            var ours = Owns(settings, incarnation);
            var removals = (ours ? settings.WriteLayouts : []).SelectMany(layout => layout.ShardKeys(Collection))
                .Select(key => GrainFactory.GetGrain<IIndexShardGrain>(key).RemoveDocument(DocumentId, deletedAt)).ToList();
            if (indexedIn is not null && !(ours && settings.WriteLayouts.Contains(indexedIn)))
                removals.AddRange(indexedIn.ShardKeys(Collection).Select(async key =>
                {
                    try { await GrainFactory.GetGrain<IIndexShardGrain>(key).RemoveDocument(DocumentId, deletedAt); }
                    catch (ShardLayoutChangedException) { } // retired: it holds nothing
                }));
            await Task.WhenAll(removals);
            if (ours) await GrainFactory.GetGrain<ICollectionGrain>(Collection).DocumentChanged(DocumentId, present: false, Generations(settings), incarnation);
        });
        await _state.UpdateAsync(s =>
        {
            if (s.Version != deletedAt || !s.RemovalPending) return false; // ingested again meanwhile: that version owns it now
            s.RemovalPending = false;
            return true;
        });
        return true;
    }

    public async Task<RestoredDocument?> Export()
    {
        await RefreshAsync();
        var s = _state.Current;
        return s.Status == DocumentStatuses.Indexed
            ? new RestoredDocument(DocumentId, s.Version, s.ContentHash, s.ChunkCount, s.Tags, s.Format, s.FileName, s.UpdatedAt)
            : null;
    }

    private void EnsureIndexing()
    {
        _retry?.Dispose();
        _retry = null;
        if (_state.Current.RemovalPending && _state.Current.Status == DocumentStatuses.Deleted)
        {
            if (_removing is null or { IsCompleted: true }) _removing = FinishDeleteAsync();
            return;
        }
        // A running pass indexes a version that arrives meanwhile as soon as it ends (and settles what it accepted).
        if ((!IsPending && _acceptances.Count == 0) || _indexing is { IsCompleted: false } || _stopping.IsCancellationRequested) return;
        _indexing = IndexPendingAsync();
    }

    private async Task<bool> FinishDeleteAsync()
    {
        try
        {
            return await DeleteAsync();
        }
        catch (Exception e)
        {
            DocumentLog.DeleteStopped(log, Collection, DocumentId, e.Message);
            if (!_stopping.IsCancellationRequested) _retry = RegisterRetry(RetryPeriod);
            return false;
        }
    }

    /// <summary>
    /// Passes until nothing is pending, then tells the collection the document settled; only a failed pass leaves a
    /// timer behind, to retry. (A timer on every pending document, ticking every 2 s, gave a bulk ingest with 1,500
    /// documents queued up to 750 grain turns a second that each found a pass already running or waiting for its slot.)
    /// </summary>
    private async Task IndexPendingAsync()
    {
        if (_removing is { IsCompleted: false } removing) await removing.ContinueWith(_ => { }, TaskScheduler.Current); // never beside a delete
        var done = true;
        try
        {
            while (done && !_stopping.IsCancellationRequested)
            {
                if (IsPending) done = await IndexAsync();
                else if (_acceptances.Count > 0) await SettleAsync(); // a version accepted meanwhile is indexed first
                else break;
            }
        }
        catch (Exception e)
        {
            DocumentLog.IndexingStopped(log, Collection, DocumentId, e.Message);
            done = false;
        }
        if (!IsPending) LeaveQueue();
        if (!_waitingForEmbedding) _waitReason = null; // the last pass got past embedding (or ended otherwise)
        if (!done && !_stopping.IsCancellationRequested)
        {
            // Waiting for an embedding silo can last minutes: look less often, spread out, than after a failed write.
            _retry = RegisterRetry(_waitingForEmbedding ? WaitPeriod + TimeSpan.FromMilliseconds(Random.Shared.Next(2000)) : RetryPeriod);
            _waitingForEmbedding = false;
        }
        // Settled, nothing left to do: the activation goes now rather than after the collection age (15 min). A bulk
        // load of a million documents kept hundreds of thousands of idle activations in the heap for the collector to
        // shed in batches. A status read activates it again.
        else if (done && !IsPending && _removing is null or { IsCompleted: true } && !_stopping.IsCancellationRequested) this.DeactivateOnIdle();
    }

    /// <summary>
    /// Tells the collection the acceptances so far are settled, so its sweep need not activate this document to find
    /// out (after a bulk load it activated every document again). A notice that fails is dropped: the sweep remains.
    /// </summary>
    private async Task SettleAsync()
    {
        var stamps = _acceptances.ToArray();
        _acceptances.Clear();
        try
        {
            await GrainFactory.GetGrain<ICollectionGrain>(Collection).DocumentSettled(DocumentId, stamps);
        }
        catch (Exception e)
        {
            DocumentLog.SettleNotHeard(log, Collection, DocumentId, e.Message);
        }
    }

    private bool IsPending => _state.Current.Status == DocumentStatuses.Pending && _state.Current.PendingContent is not null;

    private IGrainTimer RegisterRetry(TimeSpan dueTime) =>
        this.RegisterGrainTimer(_ => { EnsureIndexing(); return Task.CompletedTask; }, dueTime, Timeout.InfiniteTimeSpan);

    /// <summary>One pass over the pending version; false when it failed transiently and should be retried later.</summary>
    private async Task<bool> IndexAsync()
    {
        // A bulk ingest wakes thousands of documents at once; a bounded number index at a time, enough to keep the
        // encoder's batches full, so none of them waits long enough inside a call to time out and start over.
        using var step = new IngestSteps(IngestSteps.WaitingForSlot);
        using var slot = await slots.EnterAsync(_stopping.Token);
        step.MoveTo(IngestSteps.Chunking);
        var pending = _state.Current; // never changed in place: a later version arrives as a new object
        var version = pending.Version;
        if (!IsPending) return true;
        bool Superseded() => _state.Current.Version != version || _stopping.IsCancellationRequested;
        try
        {
            var settings = RequireOwned(await GrainFactory.GetGrain<ICollectionGrain>(Collection).GetSettings(), pending);
            var chunks = pending.Format == OwnVectorChunks.Format || settings.Dimensions is not null
                ? OwnChunks(pending, settings)
                : await EmbeddedChunksAsync(pending, settings, step);
            if (Superseded()) return true; // the next pass takes the newer version

            step.MoveTo(IngestSteps.WritingShards);
            // Register with the collection before recording success: if this call fails the document stays
            // pending and the whole (idempotent) pass is retried, so the registration cannot be lost. A reshard that
            // began or ended since the settings were read refuses it, and the chunks go to the layouts it names.
            int[] held = [];
            var superseded = false;
            settings = await WithCurrentLayouts(async current =>
            {
                held = await WriteShardsAsync(pending, chunks, RequireOwned(current, pending));
                if (superseded = Superseded()) return;
                step.MoveTo(IngestSteps.Registering);
                await GrainFactory.GetGrain<ICollectionGrain>(Collection).DocumentChanged(DocumentId, present: true, Generations(current), pending.Incarnation);
            }, settings);
            if (superseded || Superseded()) return true;

            step.MoveTo(IngestSteps.Saving);
            var indexed = await _state.UpdateAsync(s =>
            {
                if (s.Version != version || s.Status != DocumentStatuses.Pending) return false;
                s.Status = DocumentStatuses.Indexed;
                s.IndexedVersion = version;
                s.ChunkCount = chunks.Count;
                s.ShardCount = settings.ShardCount;
                s.LayoutGeneration = settings.LayoutGeneration;
                s.HeldShards = held;
                s.PendingContent = null;
                s.UpdatedAt = DateTimeOffset.UtcNow;
                return true;
            });
            if (indexed)
            {
                RagMetrics.Ingests.Add(1, RagMetrics.Tag("outcome", "indexed"));
                RagMetrics.IngestedChunks.Add(chunks.Count);
                RagMetrics.IndexedDocumentsRate.Add(1);
                RagMetrics.IndexedChunksRate.Add(chunks.Count);
            }
            return true;
        }
        catch (CollectionGoneException) when (!Superseded())
        {
            // The collection was deleted while this pass ran: the document goes with it (its chunks leave the shards).
            var removal = DeleteAsync();
            _removing = removal;
            await removal;
            return true;
        }
        // The content cannot be indexed: unreadable, or refused by a shard (a vector of another dimension). The reason is kept.
        catch (Exception e) when (e is ExtractionException or InvalidRequestException && !Superseded())
        {
            var failed = await _state.UpdateAsync(s =>
            {
                if (s.Version != version || s.Status != DocumentStatuses.Pending) return false;
                s.Status = DocumentStatuses.Failed;
                s.Error = e.Message;
                s.PendingContent = null;
                s.UpdatedAt = DateTimeOffset.UtcNow;
                return true;
            });
            if (failed) RagMetrics.Ingests.Add(1, RagMetrics.Tag("outcome", "failed"));
            return true;
        }
        catch (EmbeddingUnavailableException e) when (!Superseded() && !_stopping.IsCancellationRequested)
        {
            // No silo can embed now (none with the embedding role is active): wait, pending, and look again later.
            _waitingForEmbedding = true;
            _waitReason = e.Message;
            RagMetrics.Ingests.Add(1, RagMetrics.Tag("outcome", "waiting"));
            DocumentLog.Waiting(log, Collection, DocumentId, version, e.Message);
            return false;
        }
        catch (Exception e) when (e is not InconsistentStateException)
        {
            if (_stopping.IsCancellationRequested) return true; // deactivating: the next activation resumes it
            // Transient (a shard's silo died, a timeout, the store refused a write): stay pending; the timer retries.
            RagMetrics.Ingests.Add(1, RagMetrics.Tag("outcome", "retried"));
            DocumentLog.IndexingFailed(log, Collection, DocumentId, version, e.Message);
            return false;
        }
    }

    /// <summary>
    /// Extracted and chunked here, embedded here or on an embedding silo (<see cref="Embedder"/>); BM25 only when the
    /// cluster has no model. With a model but no embedding silo active, nothing is done: the document waits, pending.
    /// </summary>
    private async Task<List<ChunkRecord>> EmbeddedChunksAsync(DocumentState pending, CollectionSettings settings, IngestSteps step)
    {
        if (embedder.DenseRetrieval && embedder.Unavailable() is { } why) throw new EmbeddingUnavailableException(why);
        // Extraction (a large PDF takes seconds) and chunking run on the thread pool, not in the grain's turn.
        var (format, content) = (pending.Format!, pending.PendingContent!);
        var (drafts, sequences) = await Task.Run(() => DocumentChunks.Cut(DocumentExtractor.Extract(format, content), settings, embedder.Local), _stopping.Token);
        float[][]? vectors = null;
        if (sequences is not null)
        {
            // The embedding service batches these with other documents' chunks; on this silo that is no grain call at all.
            step.MoveTo(IngestSteps.Embedding);
            vectors = await embedder.EmbedAsync(sequences, EmbeddingKind.Passage, _stopping.Token);
        }
        return DocumentChunks.Records(DocumentId, drafts, pending.Tags, vectors);
    }

    /// <summary>
    /// Chunks that came with their vectors (a collection created with a dimension): no extraction, chunking or model.
    /// The API checked them; this checks again against the collection (a document stored under other settings fails).
    /// </summary>
    private List<ChunkRecord> OwnChunks(DocumentState pending, CollectionSettings settings)
    {
        if (settings.Dimensions is not { } dimensions)
            throw new ExtractionException("the collection embeds its documents with the cluster's model; it takes text, not vectors");
        if (pending.Format != OwnVectorChunks.Format)
            throw new ExtractionException($"the collection takes chunks with {dimensions}-dimensional vectors, not {pending.Format} content");
        List<OwnVectorChunk> own;
        try { own = OwnVectorChunks.Decode(pending.PendingContent!).Chunks; }
        catch (InvalidRequestException e) { throw new ExtractionException(e.Message); }
        var chunks = new List<ChunkRecord>(own.Count);
        for (var i = 0; i < own.Count; i++)
        {
            if (OwnVectorChunks.Problem(own[i].Vector, dimensions) is { } problem) throw new ExtractionException($"chunk {i}'s vector {problem}");
            chunks.Add(new ChunkRecord(ChunkIds.Of(DocumentId, i), DocumentId, i, 0, own[i].Text.Length, own[i].Text, [], pending.Tags,
                OwnVectorChunks.Normalized(own[i].Vector)));
        }
        return chunks;
    }

    /// <summary>
    /// Writes the chunks to every layout the collection writes (two while it reshards); returns the serving layout's
    /// shards that got chunks. Told are the shards that get chunks, and those that may hold an older version's (so
    /// they drop them): none for a new document, the held ones when known for that layout, else all. (A new document
    /// telling every shard made most calls, each a shard log row, empty: a 1,500-document run's shard log INSERTs fell
    /// from 7,017 to 3,299 with 4 shards.) A layout this document was not last written to (one a reshard builds, or
    /// one it copied into) may already hold part of this very version, copied from an old shard, so it gets a merge.
    /// </summary>
    private async Task<int[]> WriteShardsAsync(DocumentState pending, List<ChunkRecord> chunks, CollectionSettings settings)
    {
        var writes = new List<Task>();
        int[] held = [];
        foreach (var layout in settings.WriteLayouts)
        {
            var byShard = chunks.GroupBy(c => ShardRouting.ShardOf(c.ChunkId, layout.ShardCount)).ToDictionary(g => g.Key, g => g.ToArray());
            if (layout == settings.Layout) held = byShard.Keys.Order().ToArray();
            var lastWritten = pending.LayoutGeneration == layout.Generation && pending.ShardCount == layout.ShardCount;
            var shards = pending.HeldShards switch
            {
                [] => byShard.Keys.Order(),
                { } before when lastWritten => byShard.Keys.Union(before).Order(),
                _ => Enumerable.Range(0, layout.ShardCount),
            };
            var merge = !lastWritten || layout == settings.ReshardingTo;
            foreach (var i in shards)
            {
                var shard = GrainFactory.GetGrain<IIndexShardGrain>(layout.ShardKey(Collection, i));
                var mine = byShard.GetValueOrDefault(i) ?? [];
                writes.Add(merge ? shard.Merge([new ShardUpsert(DocumentId, pending.Version, mine)]) : shard.Upsert(DocumentId, pending.Version, mine));
            }
        }
        await Task.WhenAll(writes);
        return held;
    }

    /// <summary>
    /// Runs <paramref name="write"/> against the collection's layouts; when a reshard began or ended under it (a shard or
    /// the collection answers ShardLayoutChangedException) reads the settings again and repeats. Returns the settings it
    /// finished with.
    /// </summary>
    private async Task<CollectionSettings> WithCurrentLayouts(Func<CollectionSettings, Task> write, CollectionSettings? settings = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            settings ??= await GrainFactory.GetGrain<ICollectionGrain>(Collection).GetSettings();
            try
            {
                await write(settings);
                return settings;
            }
            catch (ShardLayoutChangedException) when (attempt < 5)
            {
                settings = null;
            }
        }
    }

    private static bool Owns(CollectionSettings settings, long incarnation) => incarnation == 0 || settings.Incarnation == incarnation;

    /// <summary>The settings, if they are those of the collection that accepted the version (else it was dropped since: the document goes with it).</summary>
    private CollectionSettings RequireOwned(CollectionSettings settings, DocumentState pending) => Owns(settings, pending.Incarnation)
        ? settings
        : throw new CollectionGoneException($"collection '{Collection}' was deleted since document '{DocumentId}' was accepted");

    private static int[] Generations(CollectionSettings settings) => settings.WriteLayouts.Select(l => l.Generation).ToArray();

    /// <summary>What makes two submissions the same document content: format, tags and bytes (a resend of the same is a no-op).</summary>
    internal static string Hash(IngestRequest request)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(request.Format + "\n"));
        foreach (var (k, v) in request.Tags.OrderBy(t => t.Key, StringComparer.Ordinal)) sha.AppendData(Encoding.UTF8.GetBytes($"{k}={v}\n"));
        sha.AppendData(request.Content);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private DocumentStatus Snapshot()
    {
        var s = _state.Current;
        return new DocumentStatus(Collection, DocumentId, s.Version == 0 ? DocumentStatuses.Unknown : s.Status, s.Version, s.ChunkCount, s.Error, s.ContentHash, s.UpdatedAt)
        {
            AcceptedStamp = s.AcceptedStamp,
            Waiting = s.Status == DocumentStatuses.Pending ? _waitReason : null,
        };
    }
}
