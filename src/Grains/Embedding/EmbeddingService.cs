using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding.Onnx;
using RagCluster.Grains.Text;

namespace RagCluster.Grains.Embedding;

public enum EmbeddingKind { Query, Passage }

/// <summary>Dense retrieval is off (no model configured or it failed to load); the reason says which.</summary>
public sealed class EmbeddingUnavailableException(string message) : Exception(message);

/// <summary>
/// One per silo: owns the ONNX session and a dynamic batcher. Callers' sequences are merged across callers (and so
/// across documents) into inferences of up to MaxBatch rows. Queries go first, so a search never waits behind more
/// than the one bulk inference already running. Passages are length-bucketed: up to BucketWindow queued passages
/// are sorted by length and run in slices of similar length, so a batch pads little.
/// Without a model the service still exists and says why dense retrieval is off.
/// </summary>
public sealed class EmbeddingService : IAsyncDisposable
{
    private const int BucketWindow = 256;
    private readonly int _maxBatch;
    // Formed batches wait here for a free runner; one slot, so a query that arrives meanwhile is at most one batch behind.
    private readonly Channel<List<Item>> _slices = Channel.CreateBounded<List<Item>>(1);
    private readonly List<Thread> _runners = [];
    private readonly EmbeddingOptions _options;
    private readonly BertEncoder? _encoder;
    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task? _loop;
    private readonly CancellationTokenSource _stop = new();
    private readonly int[] _passagePrefixIds = [];
    private long _batches, _texts, _inferenceTicks, _tokens, _paddedTokens;

    private sealed class Request(int[][] sequences, bool isQuery)
    {
        public readonly int[][] Sequences = sequences;
        public readonly bool IsQuery = isQuery;
        public readonly float[][] Vectors = new float[sequences.Length][];
        public readonly TaskCompletionSource<float[][]> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Remaining = sequences.Length;
    }

    private readonly record struct Item(Request Request, int Index)
    {
        public int Length => Request.Sequences[Index].Length;
    }

    public EmbeddingService(EmbeddingOptions options, ILogger<EmbeddingService> log)
    {
        _options = options;
        options.Validate();
        if (string.IsNullOrWhiteSpace(options.ModelDirectory))
        {
            Status = "dense retrieval is off: no Embedding:ModelDirectory configured (BM25 retrieval still works)";
            log.LogWarning("{Status}", Status);
            return;
        }
        try
        {
            var dir = Path.GetFullPath(options.ModelDirectory);
            var model = new[] { Path.Combine(dir, "model.onnx"), Path.Combine(dir, "onnx", "model.onnx") }.FirstOrDefault(File.Exists)
                        ?? throw new FileNotFoundException($"no model.onnx in '{dir}' (or its onnx/ folder)");
            var tokenizer = WordPieceTokenizer.FromDirectory(File.Exists(Path.Combine(dir, "tokenizer.json")) || File.Exists(Path.Combine(dir, "vocab.txt")) ? dir : Path.GetDirectoryName(model)!);
            _encoder = new BertEncoder(model, tokenizer, options, log);
            _passagePrefixIds = tokenizer.Tokenize(options.PassagePrefix).ToArray();
            _maxBatch = options.MaxBatch > 0 ? options.MaxBatch : _encoder.ExecutionProvider == "CPU" ? 4 : 64;
            ModelName = Path.GetFileName(dir.TrimEnd('/'));
            Status = $"dense retrieval on: {ModelName}, {_encoder.Dimensions} dimensions, ONNX Runtime {_encoder.OrtVersion} on {_encoder.ExecutionProvider}";
            log.LogInformation("{Status} (providers in this ONNX Runtime: {Providers})", Status, string.Join(", ", _encoder.Providers));
            // Dedicated threads, not pool threads: an inference blocks for tens of milliseconds, and parking pool
            // threads that long starves the silo's own work.
            for (var i = 0; i < options.EffectiveRunners; i++)
            {
                var t = new Thread(RunInferences) { IsBackground = true, Name = $"embedding-runner-{i}" };
                t.Start();
                _runners.Add(t);
            }
            _loop = Task.Run(RunAsync);
        }
        catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or IOException or InvalidDataException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            Status = $"dense retrieval is off: {e.Message} (BM25 retrieval still works)";
            log.LogError("{Status}", Status);
        }
    }

    public bool IsAvailable => _encoder is not null;
    public string Status { get; }
    public string? ModelName { get; }
    public int Dimensions => _encoder?.Dimensions ?? 0;
    public WordPieceTokenizer? Tokenizer => _encoder?.Tokenizer;
    public string? ExecutionProvider => _encoder?.ExecutionProvider;
    /// <summary>Rows per inference: Embedding:MaxBatch, or the device's default when that is 0.</summary>
    public int MaxBatch => _maxBatch;
    public (long Batches, long Texts, double InferenceSeconds) Stats =>
        (Interlocked.Read(ref _batches), Interlocked.Read(ref _texts), Interlocked.Read(ref _inferenceTicks) / (double)Stopwatch.Frequency);
    /// <summary>Real and padded tokens over every inference so far (real / padded = 1: no padding).</summary>
    public (long Real, long Padded) PaddingTotals => (Interlocked.Read(ref _tokens), Interlocked.Read(ref _paddedTokens));

    public int[] TokenIds(string text, EmbeddingKind kind)
    {
        var encoder = _encoder ?? throw new EmbeddingUnavailableException(Status);
        var prefix = kind == EmbeddingKind.Query ? _options.QueryPrefix : _options.PassagePrefix;
        return encoder.TokenIds(prefix + text);
    }

    /// <summary>
    /// The model input for a passage whose word pieces the chunker already has: [CLS] prefix pieces [SEP], truncated
    /// as <see cref="TokenIds"/> truncates. Null when the prefix could merge with the text's first word (it does not
    /// end in whitespace), so the caller tokenises the joined text instead.
    /// </summary>
    public int[]? PassageSequence(IReadOnlyList<int> pieces)
    {
        var encoder = _encoder ?? throw new EmbeddingUnavailableException(Status);
        if (_options.PassagePrefix.Length > 0 && !char.IsWhiteSpace(_options.PassagePrefix[^1])) return null;
        return encoder.Tokenizer.Frame(_passagePrefixIds.Length == 0 ? pieces : [.. _passagePrefixIds, .. pieces], encoder.MaxTokens);
    }

    public Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, EmbeddingKind kind, CancellationToken cancellationToken = default)
    {
        if (_encoder is null) throw new EmbeddingUnavailableException(Status);
        var seqs = texts.Select(t => TokenIds(t, kind)).ToArray();
        return EmbedTokensAsync(seqs, kind, cancellationToken);
    }

    /// <summary>Embeds ready-made model inputs (from <see cref="TokenIds"/> or <see cref="PassageSequence"/>).</summary>
    public Task<float[][]> EmbedTokensAsync(int[][] sequences, EmbeddingKind kind = EmbeddingKind.Passage, CancellationToken cancellationToken = default)
    {
        if (_encoder is null) throw new EmbeddingUnavailableException(Status);
        if (sequences.Length == 0) return Task.FromResult(Array.Empty<float[]>());
        var request = new Request(sequences, kind == EmbeddingKind.Query);
        if (!_queue.Writer.TryWrite(request)) throw new ObjectDisposedException(nameof(EmbeddingService));
        return request.Done.Task.WaitAsync(cancellationToken);
    }

    // Natural batching: whatever queued up while the previous inference ran forms the next batch. The extra
    // MaxWait pause happens only for queries under concurrency (the last query batch merged several callers),
    // so a lone caller never pays it.
    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var queries = new Queue<Item>();
        var passages = new Queue<Request>();
        var bucket = new List<Item>();
        var bucketAt = 0;
        var concurrent = false;
        try
        {
            while (true)
            {
                if (queries.Count == 0 && bucketAt >= bucket.Count && passages.Count == 0 && !await reader.WaitToReadAsync(_stop.Token)) break;
                Drain(reader, queries, passages);
                if (queries.Count > 0)
                {
                    if (concurrent && queries.Count < _maxBatch && _options.MaxWaitMilliseconds > 0)
                        await GatherQueriesAsync(reader, queries, passages);
                    var batch = new List<Item>();
                    while (batch.Count < _maxBatch && queries.Count > 0) batch.Add(queries.Dequeue());
                    concurrent = batch.Select(i => i.Request).Distinct().Skip(1).Any();
                    batch.Sort((a, b) => a.Length.CompareTo(b.Length));
                    await _slices.Writer.WriteAsync(batch, _stop.Token);
                    continue;
                }
                if (bucketAt >= bucket.Count)
                {
                    // Refill the bucket from whole requests, up to the window, and order it by length.
                    bucket.Clear();
                    bucketAt = 0;
                    while (passages.Count > 0 && bucket.Count < BucketWindow)
                    {
                        var r = passages.Dequeue();
                        for (var i = 0; i < r.Sequences.Length; i++) bucket.Add(new Item(r, i));
                    }
                    bucket.Sort((a, b) => a.Length.CompareTo(b.Length));
                }
                if (bucketAt < bucket.Count)
                {
                    var n = Math.Min(_maxBatch, bucket.Count - bucketAt);
                    await _slices.Writer.WriteAsync(bucket.GetRange(bucketAt, n), _stop.Token);
                    bucketAt += n;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        _slices.Writer.TryComplete();
        foreach (var r in bucket.Select(i => i.Request).Concat(queries.Select(i => i.Request)).Concat(passages)) r.Done.TrySetCanceled();
        while (reader.TryRead(out var left)) left.Done.TrySetException(new ObjectDisposedException(nameof(EmbeddingService)));
    }

    private void RunInferences()
    {
        var slices = _slices.Reader;
        while (slices.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            if (slices.TryRead(out var slice)) Run(slice);
    }

    private static void Drain(ChannelReader<Request> reader, Queue<Item> queries, Queue<Request> passages)
    {
        while (reader.TryRead(out var r))
        {
            if (!r.IsQuery) { passages.Enqueue(r); continue; }
            for (var i = 0; i < r.Sequences.Length; i++) queries.Enqueue(new Item(r, i));
        }
    }

    private async Task GatherQueriesAsync(ChannelReader<Request> reader, Queue<Item> queries, Queue<Request> passages)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(_options.MaxWaitMilliseconds);
        try
        {
            while (queries.Count < _maxBatch && await reader.WaitToReadAsync(timeout.Token)) Drain(reader, queries, passages);
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
        }
    }

    private void Run(List<Item> slice)
    {
        try
        {
            var t0 = Stopwatch.GetTimestamp();
            var vectors = _encoder!.Encode(slice.Select(s => s.Request.Sequences[s.Index]).ToArray());
            Interlocked.Add(ref _inferenceTicks, Stopwatch.GetTimestamp() - t0);
            long tokens = slice.Sum(s => s.Length), padded = (long)slice.Count * slice.Max(s => s.Length);
            Interlocked.Add(ref _tokens, tokens);
            Interlocked.Add(ref _paddedTokens, padded);
            RagMetrics.EmbeddingBatchSize.Record(slice.Count);
            RagMetrics.EmbeddingBatchFill.Record(slice.Count / (double)_maxBatch);
            RagMetrics.EmbeddingPaddingFill.Record(tokens / (double)padded);
            RagMetrics.EmbeddingBatchSeconds.Record(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _texts, slice.Count);
            for (var k = 0; k < slice.Count; k++)
            {
                var r = slice[k].Request;
                r.Vectors[slice[k].Index] = vectors[k];
                if (Interlocked.Decrement(ref r.Remaining) == 0) r.Done.TrySetResult(r.Vectors); // runners finish slices in any order
            }
        }
        catch (Exception e)
        {
            foreach (var r in slice.Select(i => i.Request).Distinct()) r.Done.TrySetException(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        if (_loop is not null) await _loop;
        foreach (var t in _runners) t.Join();
        _encoder?.Dispose();
        _stop.Dispose();
    }
}
