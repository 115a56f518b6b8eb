using Orleans.Storage;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Extraction;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;

namespace RagCluster.Grains.Documents;

// Indexing the pending version: chunk, embed (or take the caller's vectors), write every layout's shards, register, settle.
public sealed partial class DocumentGrain
{
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
        if ((!IsPending && !IsRetagPending && _acceptances.Count == 0) || _indexing is { IsCompleted: false } || _stopping.IsCancellationRequested) return;
        _indexing = IndexPendingAsync();
    }

    /// <summary>
    /// Passes until nothing is pending, then tells the collection the document settled; only a failed pass leaves a
    /// timer behind, to retry: a timer on every pending document costs a bulk ingest a grain turn per document per tick.
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
                else if (IsRetagPending) done = await RetagAsync();
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
        else if (done && !IsPending && !IsRetagPending && _removing is null or { IsCompleted: true } && !_stopping.IsCancellationRequested) this.DeactivateOnIdle();
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
            await GrainFactory.GetGrain<ICollectionRegistryGrain>(Collection).DocumentSettled(DocumentId, stamps);
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
                await GrainFactory.GetGrain<ICollectionRegistryGrain>(Collection).DocumentChanged(DocumentId, present: true, Generations(current), pending.Incarnation);
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
        await embedder.ModelLoaded.WaitAsync(_stopping.Token); // its tokenizer cuts the chunks; the first text loads it
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
            // A chunk without a vector is kept for filters and BM25; the graph never holds it.
            if (own[i].Vector is { } vector && OwnVectorChunks.Problem(vector, dimensions) is { } problem) throw new ExtractionException($"chunk {i}'s vector {problem}");
            chunks.Add(new ChunkRecord(ChunkIds.Of(DocumentId, i), DocumentId, i, 0, own[i].Text.Length, own[i].Text, [], pending.Tags,
                own[i].Vector is { } sent ? Vectors.VectorMetrics.Prepared(sent, settings.Distance) : null));
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
}
