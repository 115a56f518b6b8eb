using System.Numerics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using RagCluster.Grains.Text;

namespace RagCluster.Grains.Embedding.Onnx;

/// <summary>
/// A BERT-family sentence encoder: WordPiece ids → ONNX Runtime (the Microsoft.ML.OnnxRuntime package) → pooled,
/// optionally L2-normalised vectors. ORT sessions are safe to run from several threads; this class adds no locking.
/// </summary>
public sealed class BertEncoder : ITextEncoder
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly bool _outputIsPooled;
    private readonly bool _clsPooling;
    private readonly bool _normalize;
    private int _disposed;

    /// <summary>Loads the model into a session of its own on the options' execution provider.</summary>
    /// <param name="modelPath">The ONNX file.</param>
    /// <param name="tokenizer">The model's tokenizer (for its special tokens).</param>
    /// <param name="options">Pooling, window, provider and threads, resolved for this model.</param>
    /// <param name="log">Where the provider's choice is logged.</param>
    /// <param name="int8Weights">On CPU, the model's matrix products with int8 weights (<see cref="Int8Weights"/>): a query session's choice.</param>
    public BertEncoder(string modelPath, WordPieceTokenizer tokenizer, EmbeddingOptions options, ILogger? log = null, bool int8Weights = false)
        : this(new ModelBytes(modelPath), tokenizer, options, log, int8Weights) { }

    /// <summary>Loads the model from bytes prepared once for all of a silo's sessions of it (<see cref="ModelBytes"/>).</summary>
    internal BertEncoder(ModelBytes bytes, WordPieceTokenizer tokenizer, EmbeddingOptions options, ILogger? log, bool int8Weights)
    {
        var modelPath = bytes.Path;
        options = options.Resolved();
        Tokenizer = tokenizer;
        MaxTokens = options.MaxTokens;
        _clsPooling = options.Pooling == "cls";
        _normalize = options.Normalize;
        Providers = OrtEnv.Instance().GetAvailableProviders();
        OrtVersion = OrtEnv.Instance().GetVersionString();
        using var sessionOptions = NewSessionOptions(options);
        ExecutionProvider = ChooseProvider(options, sessionOptions, log);
        byte[]? int8Model = null;
        if (int8Weights && ExecutionProvider == "CPU") (int8Model, Int8Products) = bytes.Int8();
        var pooledModel = !options.PoolInSession ? null : bytes.Pooled(int8Model is not null, _clsPooling, _normalize);
        try
        {
            _session = NewSession(modelPath, int8Model, pooledModel, sessionOptions, log);
        }
        catch (OnnxRuntimeException e) when (ExecutionProvider != "CPU")
        {
            // The provider loaded but could not start on a device (no GPU, a driver too old): as if it had not loaded.
            var reason = Reason(e);
            if (options.ExecutionProvider == "cuda") throw CudaUnavailable(reason);
            log?.CudaDidNotStart(reason);
            ExecutionProvider = "CPU";
            using var cpuOptions = NewSessionOptions(options);
            _session = NewSession(modelPath, int8Model, pooledModel, cpuOptions, log);
        }
        PadToMultipleOf = options.PadToMultipleOf > 0 ? options.PadToMultipleOf : ExecutionProvider == "CPU" ? 1 : 64;
        if (ExecutionProvider != "CPU")
        {
            Device = CudaDevice.Describe(options.DeviceId);
            log?.EmbeddingOn(ExecutionProvider, Device ?? "device not named (NVML unavailable)");
        }

        var inputs = _session.InputMetadata.Keys.ToList();
        if (!inputs.Contains("input_ids") || !inputs.Contains("attention_mask"))
            throw new InvalidDataException($"model inputs are [{string.Join(", ", inputs)}]; expected input_ids and attention_mask");
        _inputNames = inputs.Contains("token_type_ids") ? ["input_ids", "attention_mask", "token_type_ids"] : ["input_ids", "attention_mask"];
        var outputs = _session.OutputMetadata.Keys.ToList();
        // Prefer our pooled output, then token states (pooled here); accept a model that pools to sentence_embedding.
        var output = outputs.Contains(PooledOutput.Name) ? PooledOutput.Name
            : outputs.Contains("last_hidden_state") ? "last_hidden_state"
            : outputs.Contains("token_embeddings") ? "token_embeddings"
            : outputs.Contains("sentence_embedding") ? "sentence_embedding" : outputs[0];
        _outputIsPooled = output is "sentence_embedding" or PooledOutput.Name;
        PooledInSession = output == PooledOutput.Name;
        _outputNames = [output];
        Dimensions = Encode([[tokenizer.ClsId, tokenizer.SepId]])[0].Length;
    }

    public WordPieceTokenizer Tokenizer { get; }
    /// <summary>Each inference's sequence length is padded up to a multiple of this (<see cref="EmbeddingOptions.PadToMultipleOf"/>).</summary>
    public int PadToMultipleOf { get; }
    /// <summary>Whether pooling and normalisation run inside the session (<see cref="PooledOutput"/>).</summary>
    public bool PooledInSession { get; }
    public int MaxTokens { get; }
    public int Dimensions { get; }
    public string OrtVersion { get; }
    public string ExecutionProvider { get; }
    public IReadOnlyList<string> Providers { get; }
    /// <summary>The GPU's name and memory when a CUDA session runs (from the driver); null on CPU.</summary>
    public string? Device { get; }
    /// <summary>Matrix products given int8 weights; 0 when the weights are the file's.</summary>
    public int Int8Products { get; }
    public string Description => $"ONNX Runtime {OrtVersion} on {ExecutionProvider}{(Device is null ? "" : $" ({Device})")}{(Int8Products > 0 ? $", int8 weights in {Int8Products} products" : "")}";

    /// <summary>The session over the model with pooling added, or over the model as it is if that cannot load (a model with its weights in external files, say).</summary>
    private static InferenceSession NewSession(string modelPath, byte[]? int8Model, byte[]? pooledModel, SessionOptions sessionOptions, ILogger? log)
    {
        if (pooledModel is not null)
            try
            {
                return new InferenceSession(pooledModel, sessionOptions);
            }
            catch (OnnxRuntimeException e)
            {
                // A provider that cannot start fails the same way below, and the caller handles that.
                log?.PoolingOnHost(Reason(e));
            }
        return int8Model is null ? new InferenceSession(modelPath, sessionOptions) : new InferenceSession(int8Model, sessionOptions);
    }

    private static SessionOptions NewSessionOptions(EmbeddingOptions options)
    {
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            InterOpNumThreads = 1,
            IntraOpNumThreads = options.EffectiveIntraOpThreads,
        };
        // Spinning intra-op threads keep every core busy between batches and starved the silo's heartbeats
        // on a 2-core machine (silos were declared dead mid-ingest); park them unless asked otherwise.
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", options.AllowSpinning ? "1" : "0");
        return sessionOptions;
    }

    /// <summary>What ONNX Runtime says went wrong, from "Failed to load library" on where it says so (that names the missing CUDA library), without its source-file prefix.</summary>
    private static string Reason(OnnxRuntimeException e)
    {
        var line = e.Message.Split('\n')[0].Trim();
        var at = line.IndexOf("Failed to load library", StringComparison.Ordinal);
        return at >= 0 ? line[at..] : line;
    }

    private CudaUnavailableException CudaUnavailable(string reason) => new(
        $"Embedding:ExecutionProvider is 'cuda' but this ONNX Runtime {OrtVersion} cannot start it ({reason}; providers: {string.Join(", ", Providers)}); " +
        "build with -p:OnnxRuntimeGpu=true on a host with CUDA 13 and cuDNN 9, or set Embedding:ExecutionProvider to auto or cpu");

    private string ChooseProvider(EmbeddingOptions options, SessionOptions sessionOptions, ILogger? log)
    {
        if (options.ExecutionProvider == "cpu") return "CPU";
        string reason;
        if (!Providers.Contains("CUDAExecutionProvider"))
            reason = "it was built without the CUDA provider"; // the CPU package: not even the entry point exists
        else
            try
            {
                // The GPU package: starting the provider needs the CUDA and cuDNN libraries and a device.
                using var cuda = new OrtCUDAProviderOptions();
                cuda.UpdateOptions(new Dictionary<string, string> { ["device_id"] = options.DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                sessionOptions.AppendExecutionProvider_CUDA(cuda);
                return $"CUDA:{options.DeviceId}";
            }
            catch (OnnxRuntimeException e)
            {
                reason = Reason(e);
            }
        if (options.ExecutionProvider == "cuda") throw CudaUnavailable(reason);
        log?.CudaUnavailable(reason);
        return "CPU";
    }

    /// <summary>Tokenises with [CLS]/[SEP] and the configured length limit.</summary>
    public int[] TokenIds(string text) => Tokenizer.Encode(text, MaxTokens);

    /// <summary>One inference over a right-padded batch; returns one vector per sequence.</summary>
    public float[][] Encode(IReadOnlyList<int[]> sequences)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var count = sequences.Count;
        if (count == 0) return [];
        // Rows too, to a power of two when padding at all: with lengths in multiples of 64 that leaves a GPU a few dozen
        // shapes in all; the extra rows are [CLS] [SEP] and their vectors are dropped.
        var batch = PadToMultipleOf > 1 ? (int)BitOperations.RoundUpToPowerOf2((uint)count) : count;
        var longest = Math.Max(2, sequences.Max(s => s.Length));
        // Never past the window, which the model's positions cover.
        var seq = Math.Min((longest + PadToMultipleOf - 1) / PadToMultipleOf * PadToMultipleOf, Math.Max(longest, MaxTokens));
        var ids = new long[batch * seq];
        var mask = new long[batch * seq];
        int[] filler = [Tokenizer.ClsId, Tokenizer.SepId];
        for (var b = 0; b < batch; b++)
        {
            var s = b < count ? sequences[b] : filler;
            for (var t = 0; t < s.Length; t++)
            {
                ids[b * seq + t] = s[t];
                mask[b * seq + t] = 1;
            }
            for (var t = s.Length; t < seq; t++) ids[b * seq + t] = Tokenizer.PadId;
        }

        long[] shape = [batch, seq];
        // OrtValues over the managed arrays (pinned, no copy); token types are all zero (one segment).
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = _inputNames.Length == 3 ? OrtValue.CreateTensorValueFromMemory(new long[batch * seq], shape) : null;
        OrtValue[] inputs = typesValue is null ? [idsValue, maskValue] : [idsValue, maskValue, typesValue];
        using var outputs = _session.Run(_runOptions, _inputNames, inputs, _outputNames);
        var output = outputs[0];
        var dims = output.GetTensorTypeAndShape().Shape;
        var data = output.GetTensorDataAsSpan<float>();
        var vectors = _outputIsPooled ? CopyPooled(data, dims, batch) : Pool(data, dims, sequences, batch, seq);
        return count == batch ? vectors : vectors[..count];
    }

    /// <summary>
    /// Runs every padded input shape once: rows in powers of two up to <paramref name="maxRows"/>, lengths in multiples of
    /// <see cref="PadToMultipleOf"/> up to the window. On a GPU a shape's first run is the slow one, and a bulk load's first
    /// batches would otherwise meet them all; without padding (CPU) there is nothing to warm. Returns the shapes run.
    /// </summary>
    public int WarmUpShapes(int maxRows)
    {
        if (PadToMultipleOf <= 1) return 0;
        var shapes = 0;
        for (var length = PadToMultipleOf; length - PadToMultipleOf < MaxTokens; length += PadToMultipleOf)
        {
            var l = Math.Min(length, MaxTokens);
            int[] sequence = [Tokenizer.ClsId, .. Enumerable.Repeat(Tokenizer.UnkId, l - 2), Tokenizer.SepId];
            for (var rows = 1; rows <= (int)BitOperations.RoundUpToPowerOf2((uint)maxRows); rows *= 2, shapes++)
                Encode(Enumerable.Repeat(sequence, rows).ToArray());
        }
        return shapes;
    }

    private float[][] Pool(ReadOnlySpan<float> data, long[] dims, IReadOnlyList<int[]> sequences, int batch, int seq)
    {
        if (dims.Length != 3 || dims[0] != batch || dims[1] != seq)
            throw new InvalidDataException($"model output shape [{string.Join(",", dims)}] is not [batch, seq, hidden]");
        var hidden = (int)dims[2];
        var result = new float[sequences.Count][];
        for (var b = 0; b < sequences.Count; b++)
        {
            var v = new float[hidden];
            var baseOffset = b * seq * hidden;
            if (_clsPooling)
            {
                data.Slice(baseOffset, hidden).CopyTo(v);
            }
            else
            {
                var len = sequences[b].Length; // real tokens are a prefix: padding is on the right
                for (var t = 0; t < len; t++) TensorPrimitives.Add(v, data.Slice(baseOffset + t * hidden, hidden), v);
                TensorPrimitives.Divide(v, Math.Max(1, len), v);
            }
            if (_normalize) NormalizeInPlace(v);
            result[b] = v;
        }
        return result;
    }

    private float[][] CopyPooled(ReadOnlySpan<float> data, long[] dims, int batch)
    {
        if (dims.Length != 2 || dims[0] != batch) throw new InvalidDataException($"model output shape [{string.Join(",", dims)}] is not [batch, hidden]");
        var hidden = (int)dims[1];
        var result = new float[batch][];
        for (var b = 0; b < batch; b++)
        {
            result[b] = data.Slice(b * hidden, hidden).ToArray();
            if (_normalize && !PooledInSession) NormalizeInPlace(result[b]);
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
        _session.Dispose();
        _runOptions.Dispose();
    }
}

/// <summary>The operator asked for CUDA explicitly and this host or build cannot give it: a start-up error.</summary>
public sealed class CudaUnavailableException(string message) : InvalidOperationException(message);
