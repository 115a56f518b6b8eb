using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Extraction;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Grains.Documents;

/// <summary>
/// The bulk text path: small text documents of a batch, accepted durably in one registry write (their content in the
/// collection's in-flight notes), are chunked, embedded and written here a batch at a time: one embedding request and
/// one call a shard a batch, one registry write to end it. A document needs no grain of its own for this, which is what a
/// bulk load spent its time on: with no inference at all (Embedding:Encoder hashing), one silo on 2 cores took
/// scifact-train's 5,183 documents at 860-930 a second through the grain path, activating, storing and registering each.
/// A batch that fails is tried again here until it is stored; if this silo dies first, the collection's sweep hands
/// the texts to a live silo's indexer (their notes name this silo). Counted in the silo's backlog (<see cref="IndexingSlots"/>).
/// </summary>
public sealed class BulkTextIndexer(IGrainFactory grains, Embedder embedder, IndexingSlots slots, IOptions<IngestOptions> options,
    ILocalSiloDetails silo, ILogger<BulkTextIndexer> log) : IDisposable
{
    /// <summary>One accepted text: its new record, its content, and whether an earlier version may hold other shards.</summary>
    public sealed record Text(string Id, DocumentRecord Record, byte[] Content, bool Replaces)
    {
        /// <summary>The extracted text, when acceptance extracted it already.</summary>
        public ExtractedText? Extracted { get; init; }
        /// <summary>Its chunks, when acceptance cut them already (to measure it for its tenant's share).</summary>
        public DocumentChunks.Cutting? Cut { get; init; }
        /// <summary>The creation of the collection that accepted it (0: the one there now); a text of a dropped one is not stored.</summary>
        public long Incarnation { get; init; }
    }

    private static readonly string[] Formats = ["txt", "md", "html", "json"];
    private readonly IngestOptions _options = options.Value;
    private readonly Channel<(string Collection, List<Text> Texts, long Queued)> _batches = Channel.CreateUnbounded<(string, List<Text>, long)>();
    // The texts this silo is indexing, by collection, id and version: the sweep's hand-over skips them.
    private readonly ConcurrentDictionary<(string Collection, string Id, long Version), byte> _indexing = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _workers;

    /// <summary>This silo, as the in-flight notes name it.</summary>
    public string Silo => silo.SiloAddress.ToParsableString();

    /// <summary>Texts accepted and not yet stored on this silo.</summary>
    public int Indexing => _indexing.Count;

    /// <summary>Whether a document may take this path, by format and size alone (the collection is not asked).</summary>
    public bool Candidate(IngestRequest request) =>
        _options.BulkTextMaxKilobytes > 0 && request.Content.Length <= _options.BulkTextMaxKilobytes * 1024L && Formats.Contains(request.Format);

    /// <summary>
    /// The text of a document that takes this path, or null when it keeps a pipeline of its own: too large or another
    /// format, a collection of own vectors, no embedding silo now (a document's grain waits and says why), or content
    /// that does not extract (its grain records the failure).
    /// </summary>
    public ExtractedText? Extract(IngestRequest request, CollectionSettings settings)
    {
        if (!Candidate(request) || settings.Dimensions is not null || (embedder.DenseRetrieval && embedder.Unavailable() is not null)) return null;
        try { return DocumentExtractor.Extract(request.Format, request.Content); }
        catch (ExtractionException) { return null; }
    }

    /// <summary>
    /// Takes texts the collection accepted (through this silo, or from the collection's sweep when no live silo holds them);
    /// those already indexing here are skipped. They count in this silo's backlog until stored. Returns how many it took.
    /// </summary>
    public int Accept(string collection, List<Text> texts)
    {
        texts = texts.Where(t => _indexing.TryAdd((collection, t.Id, t.Record.Version), 0)).ToList();
        if (texts.Count == 0) return 0;
        foreach (var t in texts) slots.Queue(t.Content.Length);
        _batches.Writer.TryWrite((collection, texts, System.Diagnostics.Stopwatch.GetTimestamp()));
        while (Volatile.Read(ref _workers) is var n && n < _options.BulkTextConcurrency)
            if (Interlocked.CompareExchange(ref _workers, n + 1, n) == n) _ = Task.Run(WorkAsync);
        return texts.Count;
    }

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var (collection, texts, queued) in _batches.Reader.ReadAllAsync(_stopping.Token))
            {
                RagMetrics.BatchStep("queued", queued); // waiting for a worker (Ingest:BulkTextConcurrency)
                await IndexAsync(collection, texts);
            }
        }
        catch (OperationCanceledException) { } // the silo stops: the sweep of a live silo takes what is left
    }

    /// <summary>Indexes a batch, trying what failed again (from 1 s, doubling to 30 s) until every text is stored or its collection is gone.</summary>
    private async Task IndexAsync(string collection, List<Text> batch)
    {
        // One creation of the collection a pass (a batch holds one; the sweep hands over texts of the one there now).
        foreach (var texts in batch.GroupBy(t => t.Incarnation).Select(g => g.ToList())) await IndexCreationAsync(collection, texts);
    }

    private async Task IndexCreationAsync(string collection, List<Text> texts)
    {
        var delay = TimeSpan.FromSeconds(1);
        var left = texts;
        try
        {
            while (left.Count > 0 && !_stopping.IsCancellationRequested)
            {
                try
                {
                    left = await TryIndexAsync(collection, left);
                }
                catch (Exception e) when (!_stopping.IsCancellationRequested)
                {
                    log.BulkTextStopped(left.Count, collection, e.Message);
                }
                if (left.Count == 0) break;
                await Task.Delay(delay, _stopping.Token);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
        catch (OperationCanceledException) { }
        finally
        {
            foreach (var t in texts)
            {
                _indexing.TryRemove((collection, t.Id, t.Record.Version), out _);
                slots.Dequeue(t.Content.Length);
            }
        }
    }

    /// <summary>One pass: chunk every text (on all cores), embed all their chunks in one request, write the shards, register. Returns the texts to try again.</summary>
    private async Task<List<Text>> TryIndexAsync(string collection, List<Text> texts)
    {
        var owner = grains.GetGrain<ICollectionRegistryGrain>(collection);
        var settings = await owner.GetSettings();
        var acceptedBy = texts[0].Incarnation is > 0 and var a ? a : settings.Incarnation;
        if (!await owner.Exists() || settings.Incarnation != acceptedBy)
        {
            // Dropped since (and perhaps created again): the notes go, nothing is stored (a closed collection registers nothing).
            await owner.EndBulk(texts.Select(t => t.Id).ToArray(), texts.Select(t => t.Record).ToArray(), [], acceptedBy);
            return [];
        }
        await embedder.ModelLoaded.WaitAsync(_stopping.Token); // its tokenizer cuts the chunks; the first text loads it
        if (embedder.DenseRetrieval && embedder.Unavailable() is { } why) throw new EmbeddingUnavailableException(why);
        var step = System.Diagnostics.Stopwatch.GetTimestamp();
        var cuts = new (List<Chunking.ChunkDraft> Drafts, int[][]? Sequences)[texts.Count];
        await Task.Run(() => Parallel.For(0, texts.Count, new ParallelOptions { CancellationToken = _stopping.Token }, i =>
        {
            var t = texts[i];
            cuts[i] = DocumentChunks.Cut(t.Extracted ?? DocumentExtractor.Extract(t.Record.Format, t.Content), settings, embedder.Local, t.Cut);
        }), _stopping.Token);
        step = RagMetrics.BatchStep("chunking", step);
        float[][]? vectors = null;
        if (embedder.DenseRetrieval)
        {
            var sequences = cuts.SelectMany(c => c.Sequences ?? []).ToArray();
            vectors = await embedder.EmbedAsync(sequences, EmbeddingKind.Passage, _stopping.Token);
            RagMetrics.BatchStep("embedding", step);
        }
        var writes = new List<BulkWrite>(texts.Count);
        for (int i = 0, at = 0; i < texts.Count; i++)
        {
            var (t, drafts) = (texts[i], cuts[i].Drafts);
            var mine = vectors?[at..(at += drafts.Count)];
            writes.Add(new BulkWrite(i, t.Id, t.Record, DocumentChunks.Records(t.Id, drafts, t.Record.Tags, mine).ToArray(), t.Replaces));
        }
        var outcome = await BulkShardWrites.WriteAsync(grains, collection, settings, writes, _ => true, acceptedBy);
        // Gone with its collection, or stored: done. The rest are tried again, with one line a pass (not one a document).
        var failed = writes.Where(w => outcome.GetValueOrDefault(w.Index) is { } e and not CollectionGoneException).ToList();
        if (failed.Count > 0)
            log.BulkTextFailed(failed.Count, collection, outcome[failed[0].Index]!.Message);
        return failed.Select(w => texts[w.Index]).ToList();
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _batches.Writer.TryComplete();
    }
}
