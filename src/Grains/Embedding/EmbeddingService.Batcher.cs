using System.Diagnostics;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Grains.Embedding;

// The batcher: queries go first (or to their own lane), passages are bucketed by length so a batch pads little, and runner threads take slices.
public sealed partial class EmbeddingService
{
    // The work queue, guarded by _gate. Runners take their next slice under the lock themselves: a dispatcher task
    // between callers and runners woke each runner through the thread pool, and under a bulk ingest (a busy pool) the
    // machine sat 8.5 % idle with over 50 documents' passages queued (1 silo, 2 cores; 3.5 % after).
    private readonly object _gate = new();
    private readonly Queue<Item> _queries = new();
    private readonly Queue<Request> _passages = new();
    private readonly List<Item> _bucket = [];
    private int _bucketAt;
    private bool _concurrentQueries, _stopped, _hasLane, _laneBusy;
    // int8 weights quantise each inference's activations with one scale for the whole batch, so a query batched with
    // others (and their padding) would get another vector than alone: such queries run one to an inference.
    private readonly bool _queriesAlone;
    // The same for passages where the passages' session has int8 weights (Embedding:PassageWeights).
    private readonly bool _passagesAlone;

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
        lock (_gate)
        {
            if (_stopped) throw new ObjectDisposedException(nameof(EmbeddingService));
            if (request.IsQuery)
                for (var i = 0; i < sequences.Length; i++) _queries.Enqueue(new Item(request, i));
            else _passages.Enqueue(request);
            Monitor.PulseAll(_gate);
        }
        return request.Done.Task.WaitAsync(cancellationToken);
    }

    // The query lane takes the queries; the runners take them only while it is inside an inference (or where there is none).
    private bool RunnersTakeQueries => !_hasLane || _laneBusy;
    private bool HasWork => (_queries.Count > 0 && RunnersTakeQueries) || _bucketAt < _bucket.Count || _passages.Count > 0;

    private void RunInferences(bool queriesOnly)
    {
        while (NextSlice(queriesOnly) is { } slice)
            Run(slice[0].Request.IsQuery ? _laneEncoder ?? _encoder! : _encoder!, slice, !queriesOnly ? null : () =>
            {
                // Out of the inference before its callers go on: a caller's next query then waits for the lane, not a runner.
                Interlocked.Add(ref _laneTexts, slice.Count);
                lock (_gate) _laneBusy = false;
            });
    }

    // Natural batching: whatever queued up while the runners were busy forms the next slice. Queries go first. The
    // MaxWait pause happens only for queries under concurrency (the last query slice merged several callers), so a
    // lone caller never pays it. Null once the service stops.
    private List<Item>? NextSlice(bool queriesOnly)
    {
        lock (_gate)
        {
            while (true)
            {
                while (!_stopped && (queriesOnly ? _queries.Count == 0 : !HasWork)) Monitor.Wait(_gate);
                if (_stopped) return null;
                if (_queries.Count > 0 && (queriesOnly || RunnersTakeQueries))
                {
                    if (_concurrentQueries && !_queriesAlone && _options.MaxWaitMilliseconds > 0)
                    {
                        var deadline = Environment.TickCount64 + _options.MaxWaitMilliseconds;
                        for (long left; _queries.Count < _maxBatch && !_stopped && (left = deadline - Environment.TickCount64) > 0;)
                            Monitor.Wait(_gate, TimeSpan.FromMilliseconds(left));
                        if (_stopped) return null;
                        if (_queries.Count == 0) continue; // another runner took them meanwhile
                    }
                    var batch = new List<Item>();
                    for (var longest = 0; _queries.Count > 0 && (batch.Count == 0 || !_queriesAlone) && Fits(batch.Count, longest = Math.Max(longest, _queries.Peek().Length));)
                        batch.Add(_queries.Dequeue());
                    _concurrentQueries = batch.Select(i => i.Request).Distinct().Skip(1).Any();
                    batch.Sort((a, b) => a.Length.CompareTo(b.Length));
                    if (queriesOnly) _laneBusy = true;
                    return batch;
                }
                if (_bucketAt >= _bucket.Count)
                {
                    // Refill the bucket from whole requests, up to the window, and order it by length.
                    _bucket.Clear();
                    _bucketAt = 0;
                    while (_passages.Count > 0 && _bucket.Count < BucketWindow)
                    {
                        var r = _passages.Dequeue();
                        for (var i = 0; i < r.Sequences.Length; i++) _bucket.Add(new Item(r, i));
                    }
                    _bucket.Sort((a, b) => a.Length.CompareTo(b.Length));
                }
                var n = 0; // sorted by length, so each next row is the longest yet
                while (_bucketAt + n < _bucket.Count && (n == 0 || !_passagesAlone) && Fits(n, _bucket[_bucketAt + n].Length)) n++;
                var slice = _bucket.GetRange(_bucketAt, n);
                _bucketAt += n;
                return slice;
            }
        }
    }

    // Whether one more row fits an inference that has `rows` rows, `longest` tokens being its longest row then. The
    // first row always fits, however long.
    private bool Fits(int rows, int longest) => rows == 0 || (rows < _maxBatch && (long)(rows + 1) * longest <= _maxBatchTokens);

    private void Run(ITextEncoder encoder, List<Item> slice, Action? beforeCompleting = null)
    {
        var before = beforeCompleting;
        void BeforeCompleting() => Interlocked.Exchange(ref before, null)?.Invoke();
        try
        {
            var t0 = Stopwatch.GetTimestamp();
            var vectors = encoder.Encode(slice.Select(s => s.Request.Sequences[s.Index]).ToArray());
            Interlocked.Add(ref _inferenceTicks, Stopwatch.GetTimestamp() - t0);
            long tokens = slice.Sum(s => s.Length), padded = (long)slice.Count * slice.Max(s => s.Length);
            Interlocked.Add(ref _tokens, tokens);
            Interlocked.Add(ref _paddedTokens, padded);
            RagMetrics.EmbeddingBatchSize.Record(slice.Count);
            RagMetrics.EmbeddingBatchFill.Record(Math.Min(1, Math.Max(slice.Count / (double)_maxBatch, padded / (double)_maxBatchTokens)));
            RagMetrics.EmbeddingPaddingFill.Record(tokens / (double)padded);
            RagMetrics.EmbeddingBatchSeconds.Record(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _texts, slice.Count);
            _rate.Add(slice.Count);
            BeforeCompleting();
            for (var k = 0; k < slice.Count; k++)
            {
                var r = slice[k].Request;
                r.Vectors[slice[k].Index] = vectors[k];
                if (Interlocked.Decrement(ref r.Remaining) == 0) r.Done.TrySetResult(r.Vectors); // runners finish slices in any order
            }
        }
        catch (Exception e)
        {
            BeforeCompleting();
            foreach (var r in slice.Select(i => i.Request).Distinct()) r.Done.TrySetException(e);
        }
    }
}
