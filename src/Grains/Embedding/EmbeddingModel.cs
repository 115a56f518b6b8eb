using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RagCluster.Grains.Embedding;

/// <summary>
/// This silo's <see cref="EmbeddingService"/> (tokenizer, model sessions, runners), made on first demand: the first text
/// to chunk or embed, or the start when <see cref="EmbeddingOptions.LoadsAtStart"/>. A silo that serves only its callers'
/// own vectors never loads the model (issue 84, item 2: an idle API held 652–660 MB with it, 238 MB without).
/// </summary>
public sealed class EmbeddingModel(IServiceProvider services, IOptions<EmbeddingOptions> options)
{
    private readonly Lock _gate = new();
    private Task<EmbeddingService>? _loading;

    /// <summary>
    /// Starts the load once and completes when it is done. On a thread of its own: the load takes seconds, and on
    /// 2 cores a pool thread held that long can starve the grains' scheduler; a grain awaits this rather than block its turn.
    /// </summary>
    public Task<EmbeddingService> Loaded
    {
        get
        {
            lock (_gate)
                return _loading ??= Task.Factory.StartNew(Load, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    // The load leaves about 370 MB of dead large arrays (the file read, its int8 copy, the sessions' staging) that the
    // GC would keep committed; once, right after it, they are collected and given back.
    private EmbeddingService Load()
    {
        var service = services.GetRequiredService<EmbeddingService>();
        if (!service.IsAvailable || options.Value.Encoder != "onnx") return service; // no model's arrays: nothing to give back
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return service;
    }

    /// <summary>The service when it has loaded; null before (nothing asked for it yet, or it is loading).</summary>
    public EmbeddingService? Current => Volatile.Read(ref _loading) is { IsCompletedSuccessfully: true } done ? done.Result : null;

    /// <summary>Whether a load was started and failed (an exception the service does not turn into "dense retrieval is off").</summary>
    public bool Failed => Volatile.Read(ref _loading) is { IsFaulted: true };

    /// <summary>
    /// Whether the files a load would read are missing (no model.onnx where the settings point): then the start loads at
    /// once, so the mistake shows in its log and in readiness, not at the first text.
    /// </summary>
    public bool FilesMissing
    {
        get
        {
            var o = options.Value;
            if (!o.DenseConfigured) return false;
            if (o.BuiltIn is { } builtIn) return !File.Exists(Path.Combine(builtIn.Directory, "model.onnx"));
            var dir = Path.GetFullPath(o.ModelDirectory);
            return o.Encoder == "hashing" ? !Directory.Exists(dir) : EmbeddingService.FindModelFile(dir) is null;
        }
    }

    /// <summary>Whether a model is configured (Embedding:Model or Embedding:ModelDirectory), known without loading it.</summary>
    public bool Configured => options.Value.DenseConfigured;

    /// <summary>The configured model's name, known without loading it (the built-in one's, or its folder's).</summary>
    public string? Name => options.Value.ModelName;

    /// <summary>The status line before the load: what will load, and when.</summary>
    public string NotLoadedStatus => Configured
        ? $"dense retrieval on: {Name}, loaded with the first text to embed (Embedding:LoadAtStart=true loads it at start)"
        : "dense retrieval is off: Embedding:Model is none (BM25 retrieval still works)";
}
