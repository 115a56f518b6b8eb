using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using RagCluster.Grains.Embedding;
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

    /// <summary>Exactly <paramref name="length"/> ids: [CLS], real word pieces, [SEP].</summary>
    public static int[] Sequence(WordPieceTokenizer tokenizer, int length)
    {
        var body = tokenizer.Tokenize(string.Join(' ', Enumerable.Range(0, 400).Select(i => $"the quick brown fox number {i} jumps")));
        return [tokenizer.ClsId, .. body.Take(length - 2), tokenizer.SepId];
    }
}
