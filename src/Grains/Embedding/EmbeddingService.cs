using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding.Onnx;
using RagCluster.Grains.Interfaces.Embedding;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Placement;
using RagCluster.Grains.Text;

namespace RagCluster.Grains.Embedding;

/// <summary>
/// One per silo: owns the ONNX session and a dynamic batcher. Callers' sequences are merged across callers (and so
/// across documents) into inferences of up to MaxBatch rows and MaxBatchTokens padded tokens. Queries go first, so a
/// search never waits behind more than the inferences already running (one per runner). Passages are length-bucketed:
/// up to BucketWindow queued passages are sorted by length and run in slices of similar length, so a batch pads little.
/// Without a model the service still exists and says why dense retrieval is off.
/// </summary>
public sealed partial class EmbeddingService : IAsyncDisposable
{
    private const int BucketWindow = 256;
    private readonly int _maxBatch, _maxBatchTokens;
    private readonly List<Thread> _runners = [];
    private readonly EmbeddingOptions _options; // resolved: the model's own pooling, prefix and window filled in
    private readonly ITextEncoder? _encoder;
    private readonly ITextEncoder? _laneEncoder; // the queries' own session (Embedding:QueryLaneThreads, QueryWeights), or null: the runners' one
    private readonly WordPieceTokenizer? _tokenizer;
    private readonly RateWindow _rate = new();
    private readonly int[] _passagePrefixIds = [];
    private long _batches, _texts, _inferenceTicks, _tokens, _paddedTokens;

    public EmbeddingService(EmbeddingOptions options, ILogger<EmbeddingService> log, SiloRoles? roles = null)
    {
        options.Validate();
        _options = options = options.Resolved();
        Roles = roles ??= SiloRoles.All;
        if (!options.DenseConfigured)
        {
            Status = "dense retrieval is off: Embedding:Model is none (BM25 retrieval still works)";
            log.StatusWarning(Status);
            return;
        }
        try
        {
            var builtIn = options.BuiltIn;
            var dir = builtIn?.Verify() ?? Path.GetFullPath(options.ModelDirectory);
            ModelBytes? model = null; // read, quantised and pooled once for both sessions
            ModelName = options.ModelName;
            if (!roles.Embeds)
            {
                // Chunking counts the model's word pieces and the chunker's pieces are the model input, so this silo
                // still tokenises; an embedding silo runs the inferences.
                _tokenizer = WordPieceTokenizer.FromDirectory(TokenizerDirectory(dir, options.Encoder == "hashing" ? null : ModelFile(dir)));
                Status = $"dense retrieval on: {ModelName}, embedded on the cluster's embedding silos (this silo's Silo:Roles has no {SiloRoles.Embedding})";
                log.StatusInformation(Status);
            }
            else if (options.Encoder == "hashing")
                _encoder = new HashingEncoder(WordPieceTokenizer.FromDirectory(dir), options.MaxTokens, options.HashingDimensions);
            else
            {
                model = new ModelBytes(ModelFile(dir));
                var bert = PassageSession(model, WordPieceTokenizer.FromDirectory(TokenizerDirectory(dir, model.Path)), options, log);
                log.OrtProviders(bert.OrtVersion, string.Join(", ", bert.Providers));
                _encoder = bert;
            }
            _tokenizer ??= _encoder!.Tokenizer;
            _passagePrefixIds = _tokenizer.Tokenize(options.PassagePrefix).ToArray();
            if (_encoder is null) return;
            var onCpu = _encoder.ExecutionProvider == "CPU"; // the hashing encoder batches as a fast device would
            _maxBatch = options.MaxBatch > 0 ? options.MaxBatch : onCpu ? 4 : 64;
            _maxBatchTokens = options.MaxBatchTokens > 0 ? options.MaxBatchTokens : onCpu ? 256 : int.MaxValue;
            _hasLane = onCpu && options.QueryLane;
            // The lane's session exists before any runner starts: a runner that takes a query runs it there too, so a
            // query's vector never depends on which thread embedded it.
            if (_hasLane && options.QueryLaneThreads > 0 && _encoder is BertEncoder passages)
                _laneEncoder = QuerySession(model!, passages, options, log);
            _queriesAlone = (_laneEncoder ?? _encoder) is BertEncoder { Int8Products: > 0 };
            _passagesAlone = _encoder is BertEncoder { Int8Products: > 0 };
            // The encoder's description names its int8 weights (the passages'); the query lane's are added here.
            Status = $"dense retrieval on: {ModelName}, {_encoder.Dimensions} dimensions, {_encoder.Description}"
                     + (_queriesAlone ? $"; queries with int8 weights in {((BertEncoder)(_laneEncoder ?? _encoder)).Int8Products} products" : "");
            if (options.Encoder == "hashing") log.HashingEncoderInUse(Status);
            else log.StatusInformation(Status);
            // Dedicated threads, not pool threads: an inference blocks for tens of milliseconds, and parking pool
            // threads that long starves the silo's own work.
            // On CPU one runner per core (EffectiveRunners); on a GPU that `auto` found, one, as `cuda` would give.
            var runners = options.Runners > 0 || onCpu ? options.EffectiveRunners : 1;
            for (var i = 0; i < runners; i++)
            {
                var first = i == 0;
                var t = new Thread(() =>
                {
                    if (first && _encoder is BertEncoder bert) WarmUp(bert, log);
                    RunInferences(queriesOnly: false);
                }) { IsBackground = true, Name = $"embedding-runner-{i}" };
                t.Start();
                _runners.Add(t);
            }
            if (_hasLane)
            {
                // The query lane: one more runner that takes queries only, so a search during a bulk load waits for no
                // passage's inference (tens of milliseconds on CPU) to finish first; it shares the cores meanwhile.
                var lane = new Thread(() => RunInferences(queriesOnly: true)) { IsBackground = true, Name = "embedding-query-lane" };
                lane.Start();
                _runners.Add(lane);
            }
        }
        catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or IOException or InvalidDataException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            _encoder = null;
            _tokenizer = null;
            Status = $"dense retrieval is off: {e.Message} (BM25 retrieval still works)";
            log.StatusError(Status);
        }
    }

    /// <summary>The passages' session (the runners'), with int8 weights where Embedding:PassageWeights asks and they load.</summary>
    private static BertEncoder PassageSession(ModelBytes model, WordPieceTokenizer tokenizer, EmbeddingOptions options, ILogger log)
    {
        if (options.PassageWeights == "int8")
            try
            {
                return new BertEncoder(model, tokenizer, options, log, int8Weights: true);
            }
            catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or InvalidDataException or Google.Protobuf.InvalidProtocolBufferException)
            {
                log.PassageWeightsStayFloat32(e.Message.Split('\n')[0]);
            }
        return new BertEncoder(model, tokenizer, options, log, int8Weights: false);
    }

    /// <summary>The queries' own session (Embedding:QueryLaneThreads threads), with int8 weights unless Embedding:QueryWeights is float32 or they fail to load.</summary>
    private static BertEncoder QuerySession(ModelBytes model, BertEncoder passages, EmbeddingOptions options, ILogger log)
    {
        var laneOptions = options.WithIntraOpThreads(options.QueryLaneThreads);
        if (options.QueryWeights == "int8")
            try
            {
                return new BertEncoder(model, passages.Tokenizer, laneOptions, log, int8Weights: true);
            }
            catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or InvalidDataException or Google.Protobuf.InvalidProtocolBufferException)
            {
                log.QueryWeightsStayFloat32(e.Message.Split('\n')[0]);
            }
        return new BertEncoder(model, passages.Tokenizer, laneOptions, log, int8Weights: false);
    }

    private static string ModelFile(string dir) => FindModelFile(dir) ?? throw new FileNotFoundException($"no model.onnx in '{dir}' (or its onnx/ folder)");

    /// <summary>The model.onnx of a model folder (in it, or in its onnx/ folder); null when there is none.</summary>
    internal static string? FindModelFile(string dir) =>
        new[] { Path.Combine(dir, "model.onnx"), Path.Combine(dir, "onnx", "model.onnx") }.FirstOrDefault(File.Exists);

    // The tokenizer sits beside the model folder's model.onnx, or in the folder itself.
    private static string TokenizerDirectory(string dir, string? model) =>
        model is null || File.Exists(Path.Combine(dir, "tokenizer.json")) || File.Exists(Path.Combine(dir, "vocab.txt")) ? dir : Path.GetDirectoryName(model)!;

    /// <summary>Whether this silo runs inferences (it has the embedding role and its model loaded).</summary>
    public bool IsAvailable => _encoder is not null;
    /// <summary>Whether the cluster embeds texts (a model is configured and its tokenizer loaded), here or on an embedding silo.</summary>
    public bool IsConfigured => _tokenizer is not null;
    public string Status { get; } = "";
    public string? ModelName { get; }
    public int Dimensions => _encoder?.Dimensions ?? 0;
    public WordPieceTokenizer? Tokenizer => _tokenizer;
    public string? ExecutionProvider => _encoder?.ExecutionProvider;
    public string? Device => _encoder?.Device;
    /// <summary>Rows per inference: Embedding:MaxBatch, or the device's default when that is 0.</summary>
    public int MaxBatch => _maxBatch;
    /// <summary>Padded tokens per inference: Embedding:MaxBatchTokens, or the device's default when that is 0.</summary>
    public int MaxBatchTokens => _maxBatchTokens;
    /// <summary>Texts the query lane embedded (the rest went to the runners).</summary>
    public long QueryLaneTexts => Interlocked.Read(ref _laneTexts);
    private long _laneTexts;

    public (long Batches, long Texts, double InferenceSeconds) Stats =>
        (Interlocked.Read(ref _batches), Interlocked.Read(ref _texts), Interlocked.Read(ref _inferenceTicks) / (double)Stopwatch.Frequency);
    /// <summary>Texts embedded per second here over the last 10 s.</summary>
    public double TextsPerSecond => _rate.PerSecond();
    /// <summary>Texts waiting for an inference here now.</summary>
    public int Queued
    {
        get
        {
            lock (_gate) return _queries.Count + _bucket.Count - _bucketAt + _passages.Sum(p => p.Sequences.Length);
        }
    }
    /// <summary>The roles this silo offers (Silo:Roles).</summary>
    public SiloRoles Roles { get; }

    /// <summary>What this silo says about its embedding, for /v1/embedding and the dashboard.</summary>
    public EmbeddingInfo Info(string silo)
    {
        var (batches, texts, seconds) = Stats;
        return new EmbeddingInfo(IsAvailable, Status, Dimensions, ExecutionProvider)
        {
            Device = Device, Texts = texts, Batches = batches, InferenceSeconds = Math.Round(seconds, 3),
            Silo = silo, Roles = [.. Roles.Names], TextsPerSecond = Math.Round(TextsPerSecond, 2), Queued = Queued,
        };
    }

    /// <summary>Real and padded tokens over every inference so far (real / padded = 1: no padding).</summary>
    public (long Real, long Padded) PaddingTotals => (Interlocked.Read(ref _tokens), Interlocked.Read(ref _paddedTokens));

    /// <summary>The model's window: the most tokens an input is embedded with; longer ones are cut to it.</summary>
    public int MaxTokens => _options.MaxTokens;

    /// <summary>The model input for a text: [CLS], prefix, pieces, [SEP], cut to <see cref="MaxTokens"/>.</summary>
    public int[] TokenIds(string text, EmbeddingKind kind) => Encode(text, kind, _options.MaxTokens);

    /// <summary>The same input uncut, for a caller that refuses a text longer than <see cref="MaxTokens"/> rather than cut it.</summary>
    public int[] UncutTokenIds(string text, EmbeddingKind kind) => Encode(text, kind, int.MaxValue);

    private int[] Encode(string text, EmbeddingKind kind, int maxTokens)
    {
        var tokenizer = _tokenizer ?? throw new EmbeddingUnavailableException(Status);
        var prefix = kind == EmbeddingKind.Query ? _options.QueryPrefix : _options.PassagePrefix;
        return tokenizer.Encode(prefix + text, maxTokens);
    }

    /// <summary>
    /// The model input for a passage whose word pieces the chunker already has: [CLS] prefix pieces [SEP], truncated
    /// as <see cref="TokenIds"/> truncates. Null when the prefix could merge with the text's first word (it does not
    /// end in whitespace), so the caller tokenises the joined text instead.
    /// </summary>
    public int[]? PassageSequence(IReadOnlyList<int> pieces)
    {
        var tokenizer = _tokenizer ?? throw new EmbeddingUnavailableException(Status);
        if (_options.PassagePrefix.Length > 0 && !char.IsWhiteSpace(_options.PassagePrefix[^1])) return null;
        return tokenizer.Frame(_passagePrefixIds.Length == 0 ? pieces : [.. _passagePrefixIds, .. pieces], _options.MaxTokens);
    }

    // On a GPU, before the first texts: each padded input shape once (a few seconds), so a bulk load's first minutes
    // run at the device's speed (H200: the service alone on scifact-train's chunks ran 2,256 chunks/s over new shapes).
    private void WarmUp(BertEncoder bert, ILogger log)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var shapes = bert.WarmUpShapes(_maxBatch);
        if (shapes > 0) log.ShapesWarmedUp(shapes, clock.Elapsed.TotalSeconds);
    }

    public ValueTask DisposeAsync()
    {
        List<Request> left;
        lock (_gate)
        {
            _stopped = true;
            left = [.. _bucket.Skip(_bucketAt).Select(i => i.Request), .. _queries.Select(i => i.Request), .. _passages];
            Monitor.PulseAll(_gate);
        }
        foreach (var t in _runners) t.Join(); // each finishes the inference it is running
        foreach (var r in left.Distinct()) r.Done.TrySetCanceled();
        _encoder?.Dispose();
        _laneEncoder?.Dispose();
        return ValueTask.CompletedTask;
    }
}
