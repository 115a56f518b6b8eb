using RagCluster.Configuration;
using RagCluster.Grains.Embedding.BuiltIn;

namespace RagCluster.Grains.Embedding;

/// <summary>Bound from the "Embedding" configuration section.</summary>
public sealed class EmbeddingOptions : IValidatedOptions
{
    /// <summary>
    /// The built-in model to embed with: "minilm" (all-MiniLM-L6-v2), "arctic-xs" (snowflake-arctic-embed-xs), or "none"
    /// for no dense retrieval (BM25 only). Ignored when <see cref="ModelDirectory"/> is set.
    /// </summary>
    public string Model { get; set; } = DefaultModel;
    /// <summary>The built-in model a silo embeds with unless told otherwise (chosen by nDCG@10 on SciFact, bench/results, issue 45).</summary>
    public const string DefaultModel = "arctic-xs";
    /// <summary>Folder with model.onnx (or onnx/model.onnx) and tokenizer.json / vocab.txt: another model than the built-in ones.</summary>
    public string ModelDirectory { get; set; } = "";
    /// <summary>
    /// "onnx" (the model in ModelDirectory, run by ONNX Runtime) or "hashing": vectors of hashed word pieces, no model and
    /// no inference (<see cref="HashingEncoder"/>; ModelDirectory then needs only the tokenizer). For measuring the
    /// pipeline around the encoder, and for tests; its vectors find shared words, not meaning.
    /// </summary>
    public string Encoder { get; set; } = "onnx";
    /// <summary>Dimensions of the hashing encoder's vectors.</summary>
    public int HashingDimensions { get; set; } = 384;
    /// <summary>"mean" (sentence-transformers MiniLM, e5) or "cls" (bge, arctic-embed); empty: the built-in model's own, or what a ModelDirectory's 1_Pooling/config.json says, else mean.</summary>
    public string Pooling { get; set; } = "";
    public bool Normalize { get; set; } = true;
    /// <summary>
    /// Pool and normalise inside the ONNX session (on the GPU under CUDA), so only pooled vectors leave it; false: on the
    /// host, from the token states the model returns. A model that pools itself, or imports an opset older than 11, is
    /// pooled on the host either way.
    /// </summary>
    public bool PoolInSession { get; set; } = true;
    /// <summary>Prepended to queries, e.g. "query: " for e5 or the bge instruction; unset: the built-in model's own, or a ModelDirectory's query prompt (config_sentence_transformers.json), else none.</summary>
    public string? QueryPrefix { get; set; }
    /// <summary>Prepended to passages, e.g. "passage: " for e5.</summary>
    public string PassagePrefix { get; set; } = "";
    /// <summary>Sequence length limit, special tokens included; 0: the built-in model's window (256 for all-MiniLM-L6-v2, which was trained with 256; 512 for arctic-embed-xs), or a ModelDirectory's max_seq_length (sentence_bert_config.json), else 256.</summary>
    public int MaxTokens { get; set; }
    /// <summary>
    /// Rows per inference; 0 picks by device: 4 on CPU, where bigger batches only slow the encoder, and 64 on CUDA,
    /// where a batch fills the device.
    /// </summary>
    public int MaxBatch { get; set; }
    /// <summary>
    /// Padded tokens per inference (rows × the longest row); 0 picks by device: 256 on CPU, so a full-length passage
    /// runs alone while short texts (queries) still share an inference, and no limit on CUDA: on CPU a passage runs
    /// faster alone than padded into a batch.
    /// </summary>
    public int MaxBatchTokens { get; set; }
    /// <summary>
    /// Pads each inference's sequence length up to a multiple of this, and (above 1) its rows to a power of two, so a device
    /// sees few distinct input shapes; 0 picks by device: 1 on CPU (padding only costs there), 64 on CUDA, where the first
    /// run of each new shape is slow.
    /// </summary>
    public int PadToMultipleOf { get; set; }
    /// <summary>How long the batcher waits for more texts before running a partial batch.</summary>
    public int MaxWaitMilliseconds { get; set; } = 2;
    /// <summary>"auto" (CUDA when the ONNX Runtime build has it and it starts, else CPU), "cpu" or "cuda" (start-up fails if unavailable).</summary>
    public string ExecutionProvider { get; set; } = "auto";
    public int DeviceId { get; set; }
    /// <summary>
    /// Inferences run at once on the one session; 0 picks by device: one per core on CPU (single-threaded inferences side
    /// by side beat one inference on every core), 1 on CUDA.
    /// </summary>
    public int Runners { get; set; }
    /// <summary>ORT intra-op threads per inference; 0: the cores shared out among the runners (1 each by default).</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>The runner count, with 0 resolved for the configured provider.</summary>
    public int EffectiveRunners => Runners > 0 ? Runners : ExecutionProvider == "cuda" || Encoder == "hashing" ? 1 : Math.Clamp(Environment.ProcessorCount, 1, 16);

    /// <summary>The intra-op thread count, with 0 resolved against the runners.</summary>
    public int EffectiveIntraOpThreads => IntraOpThreads > 0 ? IntraOpThreads : Math.Max(1, Environment.ProcessorCount / EffectiveRunners);
    /// <summary>
    /// On CPU, one more runner that embeds queries only, so a search during a bulk load does not wait for a passage's
    /// inference to end (bench/results, issue 45).
    /// </summary>
    public bool QueryLane { get; set; } = true;
    /// <summary>
    /// The query lane's own session and its ORT intra-op threads (the model's weights loaded a second time, about 90 MB);
    /// 0 runs the lane on the runners' session, one thread (idle search is slower so: bench/results, issue 45).
    /// </summary>
    public int QueryLaneThreads { get; set; } = 2;
    /// <summary>
    /// The query lane's own session's weights: "int8" (its matrix products with int8 weights, made at load) or
    /// "float32" (the file's). Passages always use the file's. arctic-xs on 2 cores: int8 embeds a query about twice as
    /// fast, its vectors at cosine 0.997 or more to float32's, with scifact-train's nDCG@10 in bench/results, issue 45.
    /// </summary>
    public string QueryWeights { get; set; } = "int8";
    /// <summary>
    /// The passages' session's weights on CPU: "int8" (as QueryWeights; each passage runs alone in its inference, since
    /// int8 activations share one scale a batch) or "float32" (the file's). arctic-xs on 2 cores, scifact-train: int8
    /// indexed the corpus 1.64x as fast, passage vectors at cosine 0.998 or more to float32's, the default plan's
    /// nDCG@10 0.7202 against 0.7201 (bench/results, issue 59 item 4). A GPU session keeps the file's weights.
    /// </summary>
    public string PassageWeights { get; set; } = "int8";

    /// <summary>A copy with another intra-op thread count (the query lane's session).</summary>
    public EmbeddingOptions WithIntraOpThreads(int threads)
    {
        var copy = (EmbeddingOptions)MemberwiseClone();
        copy.IntraOpThreads = threads;
        return copy;
    }
    /// <summary>Let ORT's worker threads spin between batches: faster on a dedicated embedding node, starves others.</summary>
    public bool AllowSpinning { get; set; }

    /// <summary>
    /// Load the model while the silo starts, so the first text search finds it warm. By default it loads with the first
    /// text to embed: a silo that serves only its callers' own vectors never holds it (about 400 MB).
    /// </summary>
    public bool LoadAtStart { get; set; }

    /// <summary>Whether the silo's start loads the model: asked to, or an explicit cuda that must fail there, or no model (nothing to load).</summary>
    public bool LoadsAtStart => LoadAtStart || ExecutionProvider == "cuda" || !DenseConfigured;

    /// <summary>The built-in model in use, or null (a ModelDirectory, or none).</summary>
    public BuiltInModel? BuiltIn => ModelDirectory.Length == 0 ? BuiltInModel.Find(Model) : null;

    /// <summary>Whether a model is configured at all (a ModelDirectory or a built-in one).</summary>
    public bool DenseConfigured => ModelDirectory.Length > 0 || BuiltIn is not null;

    /// <summary>The configured model's name (the built-in one's, or its folder's; "hashing"), known without loading it; null: none.</summary>
    public string? ModelName => !DenseConfigured ? null : Encoder == "hashing" ? "hashing"
        : BuiltIn?.Name ?? Path.GetFileName(Path.GetFullPath(ModelDirectory).TrimEnd('/'));

    /// <summary>A copy with the model's own pooling, prefix and window filled in where these settings leave them open.</summary>
    public EmbeddingOptions Resolved()
    {
        var copy = (EmbeddingOptions)MemberwiseClone();
        var builtIn = BuiltIn;
        var folder = builtIn is null && ModelDirectory.Length > 0 && Encoder == "onnx" ? ModelFolderSettings.Read(ModelDirectory) : ModelFolderSettings.None;
        copy.Pooling = Pooling.Length > 0 ? Pooling : builtIn?.Pooling ?? folder.Pooling ?? "mean";
        copy.QueryPrefix = QueryPrefix ?? builtIn?.QueryPrefix ?? folder.QueryPrefix ?? "";
        copy.MaxTokens = MaxTokens > 0 ? MaxTokens : builtIn?.MaxTokens ?? folder.MaxTokens ?? 256;
        return copy;
    }

    public void Validate()
    {
        if (ModelDirectory.Length == 0 && Model != "none" && BuiltInModel.Find(Model) is null)
            throw new ArgumentException($"Embedding:Model must be {string.Join(", ", BuiltInModel.All.Select(m => m.Name))} or none (or set Embedding:ModelDirectory)");
        if (Encoder is not ("onnx" or "hashing")) throw new ArgumentException("Embedding:Encoder must be onnx or hashing");
        if (HashingDimensions is < 2 or > 4096) throw new ArgumentException("Embedding:HashingDimensions must be 2..4096");
        if (Pooling is not ("" or "mean" or "cls")) throw new ArgumentException("Embedding:Pooling must be 'mean' or 'cls'");
        if (MaxTokens != 0 && MaxTokens is < 8 or > 8192) throw new ArgumentException("Embedding:MaxTokens must be 8..8192 (or 0: the model's own)");
        if (MaxBatch is < 0 or > 1024) throw new ArgumentException("Embedding:MaxBatch must be 0 (by device) or 1..1024");
        if (MaxBatchTokens is < 0 or > 1_048_576) throw new ArgumentException("Embedding:MaxBatchTokens must be 0 (by device) or 1..1048576");
        if (Runners is < 0 or > 64) throw new ArgumentException("Embedding:Runners must be 0 (by device) or 1..64");
        if (IntraOpThreads is < 0 or > 256) throw new ArgumentException("Embedding:IntraOpThreads must be 0 (shared out) or 1..256");
        if (QueryLaneThreads is < 0 or > 256) throw new ArgumentException("Embedding:QueryLaneThreads must be 0 (the runners' session) or 1..256");
        if (QueryWeights is not ("int8" or "float32")) throw new ArgumentException("Embedding:QueryWeights must be int8 or float32");
        if (PassageWeights is not ("int8" or "float32")) throw new ArgumentException("Embedding:PassageWeights must be int8 or float32");
        if (PadToMultipleOf is < 0 or > 512) throw new ArgumentException("Embedding:PadToMultipleOf must be 0 (by device) or 1..512");
        if (MaxWaitMilliseconds is < 0 or > 1000) throw new ArgumentException("Embedding:MaxWaitMilliseconds must be 0..1000");
        if (ExecutionProvider is not ("auto" or "cpu" or "cuda")) throw new ArgumentException("Embedding:ExecutionProvider must be auto, cpu or cuda");
    }
}
