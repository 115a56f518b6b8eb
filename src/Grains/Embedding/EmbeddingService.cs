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
/// One per silo: owns the ONNX session and a dynamic batcher. Concurrent callers' texts are gathered for up to
/// MaxWait (or until MaxBatch texts) and run as one inference, sorted by length so padding stays small.
/// Without a model the service still exists and says why dense retrieval is off.
/// </summary>
public sealed class EmbeddingService : IAsyncDisposable
{
    private readonly EmbeddingOptions _options;
    private readonly BertEncoder? _encoder;
    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task? _loop;
    private readonly CancellationTokenSource _stop = new();
    private long _batches, _texts, _inferenceTicks;

    private sealed record Request(int[][] Sequences, TaskCompletionSource<float[][]> Done);

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
            ModelName = Path.GetFileName(dir.TrimEnd('/'));
            Status = $"dense retrieval on: {ModelName}, {_encoder.Dimensions} dimensions, ONNX Runtime {_encoder.OrtVersion} on {_encoder.ExecutionProvider}";
            log.LogInformation("{Status} (providers in this ONNX Runtime: {Providers})", Status, string.Join(", ", _encoder.Providers));
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
    public (long Batches, long Texts, double InferenceSeconds) Stats =>
        (Interlocked.Read(ref _batches), Interlocked.Read(ref _texts), Interlocked.Read(ref _inferenceTicks) / (double)Stopwatch.Frequency);

    public int[] TokenIds(string text, EmbeddingKind kind)
    {
        var encoder = _encoder ?? throw new EmbeddingUnavailableException(Status);
        var prefix = kind == EmbeddingKind.Query ? _options.QueryPrefix : _options.PassagePrefix;
        return encoder.TokenIds(prefix + text);
    }

    public Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, EmbeddingKind kind, CancellationToken cancellationToken = default)
    {
        if (_encoder is null) throw new EmbeddingUnavailableException(Status);
        var seqs = texts.Select(t => TokenIds(t, kind)).ToArray();
        return EmbedTokensAsync(seqs, cancellationToken);
    }

    public Task<float[][]> EmbedTokensAsync(int[][] sequences, CancellationToken cancellationToken = default)
    {
        if (_encoder is null) throw new EmbeddingUnavailableException(Status);
        if (sequences.Length == 0) return Task.FromResult(Array.Empty<float[]>());
        var done = new TaskCompletionSource<float[][]>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Request(sequences, done))) throw new ObjectDisposedException(nameof(EmbeddingService));
        return done.Task.WaitAsync(cancellationToken);
    }

    // Natural batching: whatever queued up while the previous inference ran forms the next batch. The extra
    // MaxWait pause happens only under concurrency (the last batch merged several callers), so a lone caller
    // never pays it.
    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var pending = new List<Request>();
        var concurrent = false;
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token))
            {
                pending.Clear();
                var count = 0;
                while (count < _options.MaxBatch && reader.TryRead(out var r)) { pending.Add(r); count += r.Sequences.Length; }
                if (concurrent && count < _options.MaxBatch && _options.MaxWaitMilliseconds > 0)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    timeout.CancelAfter(_options.MaxWaitMilliseconds);
                    try
                    {
                        while (count < _options.MaxBatch && await reader.WaitToReadAsync(timeout.Token))
                            while (count < _options.MaxBatch && reader.TryRead(out var r)) { pending.Add(r); count += r.Sequences.Length; }
                    }
                    catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                    {
                    }
                }
                concurrent = pending.Count > 1;
                Run(pending);
                pending.Clear();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        foreach (var r in pending) r.Done.TrySetCanceled();
        while (reader.TryRead(out var left)) left.Done.TrySetException(new ObjectDisposedException(nameof(EmbeddingService)));
    }

    private void Run(List<Request> requests)
    {
        // Flatten, sort by length, run in MaxBatch slices, then scatter back to each request.
        var items = new List<(int Req, int Idx, int[] Seq)>();
        for (var r = 0; r < requests.Count; r++)
            for (var i = 0; i < requests[r].Sequences.Length; i++) items.Add((r, i, requests[r].Sequences[i]));
        items.Sort((a, b) => a.Seq.Length.CompareTo(b.Seq.Length));
        var results = requests.Select(r => new float[r.Sequences.Length][]).ToArray();
        try
        {
            for (var start = 0; start < items.Count; start += _options.MaxBatch)
            {
                var slice = items.GetRange(start, Math.Min(_options.MaxBatch, items.Count - start));
                var t0 = Stopwatch.GetTimestamp();
                var vectors = _encoder!.Encode(slice.Select(s => s.Seq).ToArray());
                Interlocked.Add(ref _inferenceTicks, Stopwatch.GetTimestamp() - t0);
                RagMetrics.EmbeddingBatchSize.Record(slice.Count);
                RagMetrics.EmbeddingBatchSeconds.Record(Stopwatch.GetElapsedTime(t0).TotalSeconds);
                Interlocked.Increment(ref _batches);
                Interlocked.Add(ref _texts, slice.Count);
                for (var k = 0; k < slice.Count; k++) results[slice[k].Req][slice[k].Idx] = vectors[k];
            }
            for (var r = 0; r < requests.Count; r++) requests[r].Done.TrySetResult(results[r]);
        }
        catch (Exception e)
        {
            foreach (var r in requests) r.Done.TrySetException(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        if (_loop is not null) await _loop;
        _encoder?.Dispose();
        _stop.Dispose();
    }
}
