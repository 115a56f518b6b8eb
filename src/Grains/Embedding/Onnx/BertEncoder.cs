using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Text;

namespace RagCluster.Grains.Embedding.Onnx;

/// <summary>
/// A BERT-family sentence encoder: WordPiece ids → ONNX Runtime → pooled, optionally L2-normalised vectors.
/// ORT sessions are safe to run from several threads; this class adds no locking of its own.
/// </summary>
public sealed unsafe class BertEncoder : IDisposable
{
    private readonly OrtNative _ort;
    private readonly nint _env;
    private readonly nint _session;
    private readonly nint _memoryInfo;
    private readonly byte[][] _inputNames;
    private readonly byte[] _outputName;
    private readonly bool _hasTokenTypes;
    private readonly bool _outputIsPooled;
    private readonly bool _clsPooling;
    private readonly bool _normalize;
    private readonly string _libraryPath;
    private int _disposed;

    public BertEncoder(string libraryPath, string modelPath, WordPieceTokenizer tokenizer, EmbeddingOptions options, ILogger? log = null)
    {
        Tokenizer = tokenizer;
        MaxTokens = options.MaxTokens;
        _clsPooling = options.Pooling == "cls";
        _normalize = options.Normalize;
        _libraryPath = libraryPath;
        _ort = OrtNative.Load(libraryPath);
        _env = _ort.CreateEnv("ragcluster");
        var sessionOptions = _ort.CreateSessionOptions();
        try
        {
            _ort.SetGraphOptimizationLevel(sessionOptions, 99);
            if (options.IntraOpThreads > 0) _ort.SetIntraOpNumThreads(sessionOptions, options.IntraOpThreads);
            _ort.SetInterOpNumThreads(sessionOptions, 1);
            // Spinning intra-op threads keep every core busy between batches and starved the silo's heartbeats
            // on a 2-core machine (silos were declared dead mid-ingest); park them unless asked otherwise.
            _ort.AddSessionConfigEntry(sessionOptions, "session.intra_op.allow_spinning", options.AllowSpinning ? "1" : "0");
            Providers = _ort.AvailableProviders();
            ExecutionProvider = ChooseProvider(options, sessionOptions, log);
            _session = _ort.CreateSession(_env, modelPath, sessionOptions);
        }
        finally
        {
            _ort.ReleaseSessionOptions(sessionOptions);
        }
        _memoryInfo = _ort.CreateCpuMemoryInfo();

        var inputs = _ort.InputNames(_session);
        if (!inputs.Contains("input_ids") || !inputs.Contains("attention_mask"))
            throw new OnnxRuntimeException($"model inputs are [{string.Join(", ", inputs)}]; expected input_ids and attention_mask");
        _hasTokenTypes = inputs.Contains("token_type_ids");
        _inputNames = (_hasTokenTypes ? new[] { "input_ids", "attention_mask", "token_type_ids" } : ["input_ids", "attention_mask"])
            .Select(OrtNative.Utf8Z).ToArray();
        var outputs = _ort.OutputNames(_session);
        // Prefer token states (we pool ourselves); accept a model that already pools to sentence_embedding.
        var output = outputs.Contains("last_hidden_state") ? "last_hidden_state"
            : outputs.Contains("token_embeddings") ? "token_embeddings"
            : outputs.Contains("sentence_embedding") ? "sentence_embedding" : outputs[0];
        _outputIsPooled = output == "sentence_embedding";
        _outputName = OrtNative.Utf8Z(output);
        OrtVersion = _ort.Version;
        Dimensions = Encode([[tokenizer.ClsId, tokenizer.SepId]])[0].Length;
    }

    public WordPieceTokenizer Tokenizer { get; }
    public int MaxTokens { get; }
    public int Dimensions { get; }
    public string OrtVersion { get; }
    public string ExecutionProvider { get; }
    public IReadOnlyList<string> Providers { get; }

    private string ChooseProvider(EmbeddingOptions options, nint sessionOptions, ILogger? log)
    {
        if (options.ExecutionProvider == "cpu") return "CPU";
        // The CPU build lists CUDA but needs the provider libraries beside it (the GPU package ships them).
        var libDir = Path.GetDirectoryName(Path.GetFullPath(_libraryPath))!;
        var hasCuda = Providers.Contains("CUDAExecutionProvider") && File.Exists(Path.Combine(libDir, "libonnxruntime_providers_cuda.so"));
        if (!hasCuda)
        {
            if (options.ExecutionProvider == "cuda")
                throw new OnnxRuntimeException($"Embedding:ExecutionProvider is 'cuda' but {libDir} has no libonnxruntime_providers_cuda.so (providers listed: {string.Join(", ", Providers)})");
            return "CPU";
        }
        try
        {
            _ort.AppendCuda(sessionOptions, options.DeviceId);
            return $"CUDA:{options.DeviceId}";
        }
        catch (OnnxRuntimeException e) when (options.ExecutionProvider == "auto")
        {
            log?.LogWarning("CUDA execution provider did not start ({Reason}); using CPU", e.Message);
            return "CPU";
        }
    }

    /// <summary>Tokenises with [CLS]/[SEP] and the configured length limit.</summary>
    public int[] TokenIds(string text) => Tokenizer.Encode(text, MaxTokens);

    /// <summary>One inference over a padded batch; returns one vector per sequence.</summary>
    public float[][] Encode(IReadOnlyList<int[]> sequences)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var batch = sequences.Count;
        if (batch == 0) return [];
        var seq = sequences.Max(s => s.Length);
        var ids = new long[batch * seq];
        var mask = new long[batch * seq];
        var types = new long[batch * seq];
        for (var b = 0; b < batch; b++)
        {
            var s = sequences[b];
            for (var t = 0; t < s.Length; t++)
            {
                ids[b * seq + t] = s[t];
                mask[b * seq + t] = 1;
            }
            for (var t = s.Length; t < seq; t++) ids[b * seq + t] = Tokenizer.PadId;
        }

        Span<long> shape = [batch, seq];
        var inputs = stackalloc nint[3];
        nint output = 0;
        var count = _hasTokenTypes ? 3 : 2;
        fixed (long* pIds = ids)
        fixed (long* pMask = mask)
        fixed (long* pTypes = types)
        fixed (byte* n0 = _inputNames[0])
        fixed (byte* n1 = _inputNames[1])
        fixed (byte* n2 = _hasTokenTypes ? _inputNames[2] : _inputNames[1])
        fixed (byte* outName = _outputName)
        {
            try
            {
                inputs[0] = _ort.CreateTensor(_memoryInfo, pIds, ids.Length * 8L, shape, OrtNative.TensorInt64);
                inputs[1] = _ort.CreateTensor(_memoryInfo, pMask, mask.Length * 8L, shape, OrtNative.TensorInt64);
                inputs[2] = _hasTokenTypes ? _ort.CreateTensor(_memoryInfo, pTypes, types.Length * 8L, shape, OrtNative.TensorInt64) : 0;
                var names = stackalloc byte*[3] { n0, n1, n2 };
                var outNames = stackalloc byte*[1] { outName };
                _ort.Run(_session, names, inputs, count, outNames, &output, 1);
                var dims = _ort.TensorShape(output);
                var data = (float*)_ort.TensorData(output);
                return _outputIsPooled ? CopyPooled(data, dims, batch) : Pool(data, dims, sequences, batch, seq);
            }
            finally
            {
                for (var i = 0; i < 3; i++) _ort.ReleaseValue(inputs[i]);
                _ort.ReleaseValue(output);
            }
        }
    }

    private float[][] Pool(float* data, long[] dims, IReadOnlyList<int[]> sequences, int batch, int seq)
    {
        if (dims.Length != 3 || dims[0] != batch || dims[1] != seq)
            throw new OnnxRuntimeException($"model output shape [{string.Join(",", dims)}] is not [batch, seq, hidden]");
        var hidden = (int)dims[2];
        var result = new float[batch][];
        for (var b = 0; b < batch; b++)
        {
            var v = new float[hidden];
            var baseOffset = (long)b * seq * hidden;
            if (_clsPooling)
            {
                new ReadOnlySpan<float>(data + baseOffset, hidden).CopyTo(v);
            }
            else
            {
                var len = sequences[b].Length; // real tokens are a prefix: padding is on the right
                for (var t = 0; t < len; t++) TensorPrimitives.Add(v, new ReadOnlySpan<float>(data + baseOffset + (long)t * hidden, hidden), v);
                TensorPrimitives.Divide(v, Math.Max(1, len), v);
            }
            if (_normalize) NormalizeInPlace(v);
            result[b] = v;
        }
        return result;
    }

    private float[][] CopyPooled(float* data, long[] dims, int batch)
    {
        if (dims.Length != 2 || dims[0] != batch) throw new OnnxRuntimeException($"model output shape [{string.Join(",", dims)}] is not [batch, hidden]");
        var hidden = (int)dims[1];
        var result = new float[batch][];
        for (var b = 0; b < batch; b++)
        {
            result[b] = new ReadOnlySpan<float>(data + (long)b * hidden, hidden).ToArray();
            if (_normalize) NormalizeInPlace(result[b]);
        }
        return result;
    }

    private static void NormalizeInPlace(float[] v)
    {
        var norm = TensorPrimitives.Norm(v);
        if (norm > 1e-12f) TensorPrimitives.Divide(v, norm, v);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _ort.ReleaseSession(_session);
        _ort.ReleaseMemoryInfo(_memoryInfo);
        _ort.ReleaseEnv(_env);
    }
}
