using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Chunking;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Extraction;
using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.Text;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
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
    /// <summary>Kept only while indexing is pending, so a silo crash mid-ingest loses nothing.</summary>
    [Id(7)] public byte[]? PendingContent { get; set; }
    [Id(8)] public string? Format { get; set; }
    [Id(9)] public string? FileName { get; set; }
    [Id(10)] public Dictionary<string, string> Tags { get; set; } = [];
    [Id(11)] public int ShardCount { get; set; }
    /// <summary>
    /// The shards that may hold chunks of this document (of <see cref="ShardCount"/>); null when not known (a pass
    /// that never finished may have written anywhere, and documents saved before this field existed), so all are told.
    /// </summary>
    [Id(12)] public int[]? HeldShards { get; set; }
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
    [PersistentState("document")] IPersistentState<DocumentState> state, EmbeddingService embeddings, IndexingSlots slots, ILogger<DocumentGrain> log)
    : Grain, IDocumentGrain
{
    private static readonly TimeSpan RetryPeriod = TimeSpan.FromSeconds(2);
    private Task? _indexing;
    private IGrainTimer? _retry;
    // The grain is reentrant (status reads must not wait for indexing), so writes are serialised here: two
    // overlapping writes from one activation would otherwise race on the ETag and one would fail.
    private readonly SemaphoreSlim _writes = new(1, 1);

    private async Task WriteAsync()
    {
        await _writes.WaitAsync();
        try
        {
            await state.WriteStateAsync();
        }
        finally
        {
            _writes.Release();
        }
    }

    private string Collection => this.GetPrimaryKeyString()[..this.GetPrimaryKeyString().IndexOf('/')];
    private string DocumentId => this.GetPrimaryKeyString()[(this.GetPrimaryKeyString().IndexOf('/') + 1)..];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A document left pending by a crash resumes shortly after activation, once the activation has settled.
        if (IsPending) _retry = RegisterRetry(TimeSpan.FromMilliseconds(100));
        return Task.CompletedTask;
    }

    public async Task<DocumentStatus> Ingest(IngestRequest request)
    {
        if (!DocumentExtractor.SupportedFormats.Contains(request.Format))
            throw new ArgumentException($"unsupported format '{request.Format}'");
        var hash = Hash(request);
        if (hash == state.State.ContentHash && state.State.Status is DocumentStatuses.Pending or DocumentStatuses.Indexed)
            return Snapshot(); // same content: nothing to do
        var s = state.State;
        if (s.Version == 0) s.HeldShards = []; // new: no shard holds any of it
        else if (s.Status == DocumentStatuses.Pending) s.HeldShards = null; // the unfinished pass may have written to any shard
        s.Version++;
        s.Status = DocumentStatuses.Pending;
        s.ContentHash = hash;
        s.PendingContent = request.Content;
        s.Format = request.Format;
        s.FileName = request.FileName;
        s.Tags = request.Tags;
        s.Error = null;
        s.UpdatedAt = DateTimeOffset.UtcNow;
        await WriteAsync();
        EnsureIndexing();
        return Snapshot();
    }

    public Task<DocumentStatus> GetStatus() => Task.FromResult(Snapshot());

    public async Task<DocumentStatus> Delete()
    {
        if (state.State.Version == 0 || state.State.Status == DocumentStatuses.Deleted) return Snapshot();
        if (_indexing is not null) await _indexing.ContinueWith(_ => { }); // let a running pass finish first
        var s = state.State;
        s.Version++;
        s.Status = DocumentStatuses.Deleted;
        s.PendingContent = null;
        s.ContentHash = null;
        s.ChunkCount = 0;
        s.HeldShards = null; // every shard is told below; if that fails part way, a later version must tell them all again
        s.UpdatedAt = DateTimeOffset.UtcNow;
        await WriteAsync();
        var shardCount = s.ShardCount > 0 ? s.ShardCount : (await GrainFactory.GetGrain<ICollectionGrain>(Collection).GetSettings()).ShardCount;
        await Task.WhenAll(Enumerable.Range(0, shardCount).Select(i =>
            GrainFactory.GetGrain<IIndexShardGrain>($"{Collection}/{i}").RemoveDocument(DocumentId, s.Version)));
        await GrainFactory.GetGrain<ICollectionGrain>(Collection).DocumentChanged(DocumentId, present: false);
        return Snapshot();
    }

    public async Task<DocumentStatus> Restore(RestoredDocument d)
    {
        if (state.State.Version != 0 && state.State.Status != DocumentStatuses.Deleted)
            throw new InvalidOperationException($"document '{DocumentId}' already exists; restore into a new collection");
        var s = state.State;
        s.Version = Math.Max(s.Version + 1, d.Version); // never reuse a version a shard may have seen
        s.IndexedVersion = s.Version;
        s.Status = DocumentStatuses.Indexed;
        s.ContentHash = d.ContentHash;
        s.ChunkCount = d.ChunkCount;
        s.Tags = d.Tags;
        s.Format = d.Format;
        s.FileName = d.FileName;
        s.Error = null;
        s.PendingContent = null;
        s.HeldShards = null; // the restored shards hold its chunks wherever the backup's did
        s.UpdatedAt = d.UpdatedAt;
        s.ShardCount = (await GrainFactory.GetGrain<ICollectionGrain>(Collection).GetSettings()).ShardCount;
        await WriteAsync();
        return Snapshot();
    }

    public Task<RestoredDocument?> Export()
    {
        var s = state.State;
        return Task.FromResult(s.Status == DocumentStatuses.Indexed
            ? new RestoredDocument(DocumentId, s.Version, s.ContentHash, s.ChunkCount, s.Tags, s.Format, s.FileName, s.UpdatedAt)
            : null);
    }

    private void EnsureIndexing()
    {
        _retry?.Dispose();
        _retry = null;
        // A running pass indexes a version that arrives meanwhile as soon as it ends.
        if (!IsPending || _indexing is { IsCompleted: false }) return;
        _indexing = IndexPendingAsync();
    }

    /// <summary>
    /// Passes until nothing is pending; only a failed pass leaves a timer behind, to retry. (A timer on every pending
    /// document, ticking every 2 s, gave a bulk ingest with 1,500 documents queued up to 750 grain turns a second that
    /// each found a pass already running or waiting for its slot.)
    /// </summary>
    private async Task IndexPendingAsync()
    {
        var done = true;
        try
        {
            while (done && IsPending) done = await IndexAsync();
        }
        catch (Exception e)
        {
            log.LogWarning("Indexing {Collection}/{Document} stopped, will retry: {Error}", Collection, DocumentId, e.Message);
            done = false;
        }
        if (!done) _retry = RegisterRetry(RetryPeriod);
    }

    private bool IsPending => state.State.Status == DocumentStatuses.Pending && state.State.PendingContent is not null;

    private IGrainTimer RegisterRetry(TimeSpan dueTime) =>
        this.RegisterGrainTimer(_ => { EnsureIndexing(); return Task.CompletedTask; }, dueTime, Timeout.InfiniteTimeSpan);

    /// <summary>One pass over the pending version; false when it failed transiently and should be retried later.</summary>
    private async Task<bool> IndexAsync()
    {
        // A bulk ingest wakes thousands of documents at once; a bounded number index at a time, enough to keep the
        // encoder's batches full, so none of them waits long enough inside a call to time out and start over.
        using var step = new IngestSteps(IngestSteps.WaitingForSlot);
        using var slot = await slots.EnterAsync();
        step.MoveTo(IngestSteps.Chunking);
        var s = state.State;
        var version = s.Version;
        if (!IsPending) return true;
        try
        {
            var settings = await GrainFactory.GetGrain<ICollectionGrain>(Collection).GetSettings();
            var extracted = DocumentExtractor.Extract(s.Format!, s.PendingContent!);
            var counter = embeddings.IsAvailable ? (ITokenCounter)new WordPieceTokenCounter(embeddings.Tokenizer!) : ApproximateTokenCounter.Instance;
            var drafts = new Chunker(new ChunkingOptions { MaxTokens = settings.ChunkMaxTokens, OverlapTokens = settings.ChunkOverlapTokens }, counter).Chunk(extracted);

            float[][]? vectors = null;
            if (embeddings.IsAvailable && drafts.Count > 0)
            {
                // The chunker's word pieces are the model input: no text is tokenised twice. The local service
                // batches these with other documents' chunks (no grain call, so no response timeout to outlast).
                var sequences = drafts.Select(d => (d.TokenIds is { } ids ? embeddings.PassageSequence(ids) : null)
                                                   ?? embeddings.TokenIds(d.Text, EmbeddingKind.Passage)).ToArray();
                step.MoveTo(IngestSteps.Embedding);
                vectors = await embeddings.EmbedTokensAsync(sequences, EmbeddingKind.Passage);
            }
            if (s.Version != version) return true; // superseded while we worked; the next pass takes the newer version

            var chunks = drafts.Select((d, i) => new ChunkRecord($"{DocumentId}#{d.Ordinal}", DocumentId, d.Ordinal, d.Start, d.End, d.Text,
                d.HeadingPath.ToArray(), s.Tags, vectors?[i])).ToList();
            var byShard = chunks.GroupBy(c => ShardOf(c.ChunkId, settings.ShardCount)).ToDictionary(g => g.Key, g => g.ToArray());
            // The shards that get chunks, and those that may hold older ones (told so they drop them). A new document
            // tells only the first: with 4 shards and SciFact's 1.9 chunks a document, telling every shard made most
            // calls (each one a shard log row) empty; a 1,500-document run's shard log INSERTs fell from 7,017 to 3,299.
            step.MoveTo(IngestSteps.WritingShards);
            await Task.WhenAll(ShardsToTell(byShard.Keys, settings.ShardCount).Select(i =>
                GrainFactory.GetGrain<IIndexShardGrain>($"{Collection}/{i}").Upsert(DocumentId, version, byShard.GetValueOrDefault(i) ?? [])));
            if (s.Version != version) return true;
            // Register with the collection before recording success: if this call fails the document stays
            // pending and the whole (idempotent) pass is retried, so the registration cannot be lost.
            step.MoveTo(IngestSteps.Registering);
            await GrainFactory.GetGrain<ICollectionGrain>(Collection).DocumentChanged(DocumentId, present: true);
            if (s.Version != version) return true;

            RagMetrics.Ingests.Add(1, RagMetrics.Tag("outcome", "indexed"));
            RagMetrics.IngestedChunks.Add(chunks.Count);
            RagMetrics.IndexedDocumentsRate.Add(1);
            RagMetrics.IndexedChunksRate.Add(chunks.Count);
            s.Status = DocumentStatuses.Indexed;
            s.IndexedVersion = version;
            s.ChunkCount = chunks.Count;
            s.ShardCount = settings.ShardCount;
            s.HeldShards = byShard.Keys.Order().ToArray();
            s.PendingContent = null;
            s.UpdatedAt = DateTimeOffset.UtcNow;
            step.MoveTo(IngestSteps.Saving);
            await WriteAsync();
            return true;
        }
        catch (ExtractionException e) when (s.Version == version)
        {
            RagMetrics.Ingests.Add(1, RagMetrics.Tag("outcome", "failed"));
            s.Status = DocumentStatuses.Failed;
            s.Error = e.Message;
            s.PendingContent = null;
            s.UpdatedAt = DateTimeOffset.UtcNow;
            await WriteAsync();
            return true;
        }
        catch (Exception e) when (e is not InconsistentStateException)
        {
            // Transient (a shard's silo died, a timeout): stay pending; the timer retries.
            RagMetrics.Ingests.Add(1, RagMetrics.Tag("outcome", "retried"));
            log.LogWarning("Indexing {Collection}/{Document} v{Version} failed, will retry: {Error}", Collection, DocumentId, version, e.Message);
            return false;
        }
    }

    /// <summary>Shards a pass writes to: those given chunks plus those that may hold an older version's (all, when unknown).</summary>
    private IEnumerable<int> ShardsToTell(IEnumerable<int> withChunks, int shardCount)
    {
        var held = state.State.HeldShards;
        // Held shards are numbered in the shard count they were written under (a count changes only on an empty collection).
        if (held is null || (held.Length > 0 && state.State.ShardCount != shardCount))
            return Enumerable.Range(0, shardCount);
        return withChunks.Union(held).Order();
    }

    /// <summary>Stable shard choice for a chunk id (the same on every silo and every run).</summary>
    public static int ShardOf(string chunkId, int shardCount) => (int)(StableHash.Of(chunkId) % (uint)shardCount);

    private static string Hash(IngestRequest request)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(request.Format + "\n"));
        foreach (var (k, v) in request.Tags.OrderBy(t => t.Key, StringComparer.Ordinal)) sha.AppendData(Encoding.UTF8.GetBytes($"{k}={v}\n"));
        sha.AppendData(request.Content);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private DocumentStatus Snapshot()
    {
        var s = state.State;
        return new DocumentStatus(Collection, DocumentId, s.Version == 0 ? "unknown" : s.Status, s.Version, s.ChunkCount, s.Error, s.ContentHash, s.UpdatedAt);
    }
}
