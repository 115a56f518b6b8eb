using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Embedding.BuiltIn;
using RagCluster.Grains.Embedding.Onnx;
using RagCluster.Grains.Text;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Encoder throughput on 128-token inputs, batch 1 and 32 by default: the encoder alone (what onnxruntime-node is
/// compared with: same model, same input, same session settings) and the batching service on top of it. With
/// PROVIDER cuda (the GPU build) the same on the GPU, at the batch sizes given, and the service with 4 × the largest
/// batch of single-text callers.
/// </summary>
public static class EmbedBench
{
    public static async Task Run(string modelDir, double seconds, string provider = "cpu", int[]? batches = null, string model = "model.onnx", bool poolInSession = true)
    {
        batches ??= [1, 32];
        // CPU: one inference at a time over every core, as onnxruntime-node's session runs (its intra-op default is all
        // cores). CUDA: one inference at a time on the device, as the service runs it there.
        var options = new EmbeddingOptions { ModelDirectory = modelDir, ExecutionProvider = provider, MaxTokens = 128, MaxBatch = batches.Max(), Runners = 1, PoolInSession = poolInSession };
        var tokenizer = WordPieceTokenizer.FromDirectory(modelDir);
        using var encoder = new BertEncoder(Path.Combine(modelDir, model), tokenizer, options);
        Console.Error.WriteLine($"encoder: {encoder.Description}, {model}, pooled {(encoder.PooledInSession ? "in the session" : "on the host")}");
        var seq = Sequence(tokenizer, 128);
        foreach (var batch in batches)
        {
            var input = Enumerable.Repeat(seq, batch).ToArray();
            for (var i = 0; i < 3; i++) encoder.Encode(input); // warm-up
            var n = 0;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalSeconds < seconds) { encoder.Encode(input); n += batch; }
            Console.WriteLine(JsonSerializer.Serialize(new { lib = "ragcluster-encoder", ort = encoder.OrtVersion, provider = encoder.ExecutionProvider, model, pooled = encoder.PooledInSession ? "session" : "host", batch, tokens = seq.Length, sentences_per_s = n / sw.Elapsed.TotalSeconds }));
        }

        if (model != "model.onnx") return; // the service loads model.onnx
        await using var service = new EmbeddingService(options, NullLogger<EmbeddingService>.Instance);
        var callers = provider == "cuda" ? 4 * batches.Max() : 32;
        var texts = Enumerable.Range(0, callers).Select(i => string.Join(' ', Enumerable.Range(0, 200).Select(w => $"word{(w * 7 + i) % 500}"))).ToArray();
        await service.EmbedAsync(texts, EmbeddingKind.Passage);
        var count = 0;
        var clock = Stopwatch.StartNew();
        // Concurrent single-text callers: the batcher has to find the batches itself.
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async c =>
        {
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                await service.EmbedAsync([texts[c]], EmbeddingKind.Passage);
                Interlocked.Increment(ref count);
            }
        }));
        Console.WriteLine(JsonSerializer.Serialize(new { lib = $"ragcluster-service-{callers}-callers", provider = service.Status, batch = 1, tokens = 128, sentences_per_s = count / clock.Elapsed.TotalSeconds, mean_batch = service.Stats.Texts / (double)Math.Max(1, service.Stats.Batches) }));
    }

    /// <summary>
    /// Each model folder's vectors against the first's (a float16 or fused graph against float32, issue 45 item 7) on the
    /// same inputs: a corpus's chunks as a default collection makes them, and its queries with the query prefix.
    /// </summary>
    public static void Compare(string[] modelDirs, string corpusDir, int docs, int queries)
    {
        var (firstDir, options, _) = Model(modelDirs[0]);
        var tokenizer = WordPieceTokenizer.FromDirectory(firstDir);
        var passages = IngestBench.ChunkSequences(firstDir, IngestBench.LoadCorpus(corpusDir, docs)).SelectMany(d => d).ToList();
        var questions = Queries(corpusDir, queries, tokenizer, options);
        float[][] EncodeAll(string spec, List<int[]> inputs)
        {
            var (dir, modelOptions, int8) = Model(spec);
            using var encoder = new BertEncoder(Path.Combine(dir, "model.onnx"), WordPieceTokenizer.FromDirectory(dir), modelOptions, int8Weights: int8);
            // int8 weights one text an inference, as the service runs them (a batch shares one activation scale).
            return int8 ? inputs.Select(i => encoder.Encode([i])[0]).ToArray() : inputs.Chunk(64).SelectMany(b => encoder.Encode(b)).ToArray();
        }
        var reference = (Passages: EncodeAll(modelDirs[0], passages), Queries: EncodeAll(modelDirs[0], questions));
        foreach (var dir in modelDirs.Skip(1))
            foreach (var (kind, inputs, baseline) in new[] { ("passages", passages, reference.Passages), ("queries", questions, reference.Queries) })
            {
                var vectors = EncodeAll(dir, inputs);
                var cosines = vectors.Select((v, i) => System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(v, baseline[i])).Order().ToArray();
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "compare", model = dir, against = modelDirs[0], kind, texts = inputs.Count, mean_tokens = inputs.Average(s => s.Length),
                    min_cosine = cosines[0], p001_cosine = cosines[cosines.Length / 1000], mean_cosine = cosines.Average(), below_0_999 = cosines.Count(c => c < 0.999f),
                }));
            }
    }

    /// <summary>
    /// A query as a search embeds it: one at a time, on a session of <paramref name="threads"/> intra-op threads (the
    /// query lane's), each model in turn twice (A B A B), so a drifting host shows as a difference between passes.
    /// </summary>
    public static void QueryEncoder(string[] specs, string corpusDir, int queries, int threads)
    {
        var (firstDir, options, _) = Model(specs[0]);
        var questions = Queries(corpusDir, queries, WordPieceTokenizer.FromDirectory(firstDir), options);
        var encoders = specs.Select(spec =>
        {
            var (dir, modelOptions, int8) = Model(spec);
            return new BertEncoder(Path.Combine(dir, "model.onnx"), WordPieceTokenizer.FromDirectory(dir), modelOptions.WithIntraOpThreads(threads), int8Weights: int8);
        }).ToList();
        for (var pass = 1; pass <= 2; pass++)
            for (var m = 0; m < specs.Length; m++)
            {
                foreach (var q in questions.Take(50)) encoders[m].Encode([q]); // warm-up
                var ms = questions.Select(q =>
                {
                    var t0 = Stopwatch.GetTimestamp();
                    encoders[m].Encode([q]);
                    return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                }).Order().ToArray();
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "query-encoder", model = specs[m], pass, threads, queries = ms.Length, mean_tokens = questions.Average(q => q.Length),
                    p50_ms = ms[ms.Length / 2], p95_ms = ms[ms.Length * 95 / 100], mean_ms = ms.Average(),
                }));
            }
        foreach (var e in encoders) e.Dispose();
    }

    /// <summary>A model folder or a built-in model's name, "int8:" before it for int8 weights (<see cref="Int8Weights"/>).</summary>
    private static (string Dir, EmbeddingOptions Options, bool Int8) Model(string spec)
    {
        var int8 = spec.StartsWith("int8:", StringComparison.Ordinal);
        if (int8) spec = spec["int8:".Length..];
        var builtIn = BuiltInModel.Find(spec);
        var options = (builtIn is null ? new EmbeddingOptions { ModelDirectory = spec } : new EmbeddingOptions { Model = builtIn.Name }).Resolved();
        return (builtIn?.Directory ?? spec, options, int8);
    }

    private static List<int[]> Queries(string corpusDir, int count, WordPieceTokenizer tokenizer, EmbeddingOptions options) =>
        File.ReadLines(Path.Combine(corpusDir, "queries.jsonl")).Take(count)
            .Select(l => tokenizer.Encode(options.QueryPrefix + JsonDocument.Parse(l).RootElement.GetProperty("text").GetString(), options.MaxTokens)).ToList();

    /// <summary>
    /// A corpus's chunks through the encoder in batches of <paramref name="batch"/>, sorted by length as the service takes
    /// them, with the sequence length padded to each multiple given: twice each, since a device's first run of a shape
    /// can cost more than the later ones.
    /// </summary>
    public static void Shapes(string modelDir, string corpusDir, int docs, int batch, int[] multiples)
    {
        var chunks = IngestBench.ChunkSequences(modelDir, IngestBench.LoadCorpus(corpusDir, docs)).SelectMany(d => d).OrderBy(s => s.Length).ToList();
        foreach (var multiple in multiples)
        {
            using var encoder = new BertEncoder(Path.Combine(modelDir, "model.onnx"), WordPieceTokenizer.FromDirectory(modelDir),
                new EmbeddingOptions { ModelDirectory = modelDir, PadToMultipleOf = multiple });
            for (var pass = 1; pass <= 2; pass++)
            {
                var sw = Stopwatch.StartNew();
                foreach (var b in chunks.Chunk(batch)) encoder.Encode(b);
                Console.WriteLine(JsonSerializer.Serialize(new { bench = "shapes", provider = encoder.ExecutionProvider, pad_to_multiple_of = multiple, pass, batch, chunks = chunks.Count, mean_tokens = chunks.Average(c => c.Length), chunks_per_s = chunks.Count / sw.Elapsed.TotalSeconds }));
            }
        }
    }

    /// <summary>Exactly <paramref name="length"/> ids: [CLS], real word pieces, [SEP].</summary>
    public static int[] Sequence(WordPieceTokenizer tokenizer, int length)
    {
        var body = tokenizer.Tokenize(string.Join(' ', Enumerable.Range(0, 400).Select(i => $"the quick brown fox number {i} jumps")));
        return [tokenizer.ClsId, .. body.Take(length - 2), tokenizer.SepId];
    }
}
