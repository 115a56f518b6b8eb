using System.Numerics.Tensors;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Embedding.BuiltIn;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// The built-in models' vectors are the models' own: all-MiniLM-L6-v2 against 778 vectors published with their texts
/// (npm @sap-ux/fiori-docs-embeddings 1.2.6, made with transformers.js), arctic-embed-xs against an independent path
/// (tokenizers.js and onnxruntime-node) on the same texts, with its query prefix and [CLS] pooling.
/// </summary>
public sealed class BuiltInModelVectorTests
{
    private const double MinCosine = 0.999;
    private const double MinInt8QueryCosine = 0.995;
    private static string Fiori => Path.Combine(RepoPaths.Tools, "fiori", "package", "data", "embeddings");

    private static (List<JsonElement> Records, float[][] Vectors) Reference()
    {
        var records = File.ReadLines(Path.Combine(Fiori, "records.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var bytes = File.ReadAllBytes(Path.Combine(Fiori, "embeddings.bin"));
        var vectors = new float[bytes.Length / (384 * 4)][];
        for (var i = 0; i < vectors.Length; i++) Buffer.BlockCopy(bytes, i * 384 * 4, vectors[i] = new float[384], 0, 384 * 4);
        Assert.Equal(778, records.Count);
        Assert.Equal(778, vectors.Length);
        return (records, vectors);
    }

    private static string Content(JsonElement record) => record.GetProperty("content").GetString()!;

    [Fact]
    public async Task MiniLm_vectors_match_778_published_vectors()
    {
        var (records, reference) = Reference();
        await using var service = new EmbeddingService(new EmbeddingOptions { Model = "minilm", ExecutionProvider = "cpu", PassageWeights = "float32" }, NullLogger<EmbeddingService>.Instance);
        Assert.True(service.IsAvailable, service.Status);
        var tokenizer = service.Tokenizer!;
        // The reference framed each text as transformers.js does: [CLS] pieces [SEP], then cut to 512 tokens, so a
        // longer text loses its [SEP] (sentence-transformers, and this server, keep it and cut at 256 for this model).
        // The same framing is given to the encoder here; texts within 256 tokens are framed alike either way, and for
        // those the server's own tokenising is checked to give these very inputs.
        var sequences = records.Select(r => tokenizer.Encode(Content(r), int.MaxValue).Take(512).ToArray()).ToArray();
        var shortOnes = 0;
        for (var i = 0; i < records.Count; i++)
            if (sequences[i].Length <= 256)
            {
                Assert.Equal(sequences[i], service.TokenIds(Content(records[i]), EmbeddingKind.Passage));
                shortOnes++;
            }
        Assert.True(shortOnes >= 20, $"only {shortOnes} texts fit 256 tokens");
        Assert.Contains(sequences, s => s.Length == 512); // truncation exercised too

        var vectors = await service.EmbedTokensAsync(sequences, EmbeddingKind.Passage);
        var below = Enumerable.Range(0, records.Count)
            .Select(i => (Index: i, Cosine: TensorPrimitives.CosineSimilarity(vectors[i], reference[i])))
            .Where(c => c.Cosine < MinCosine).ToList();
        Assert.True(below.Count == 0, $"{below.Count} of 778 below {MinCosine}: {string.Join(", ", below.Take(10).Select(b => $"#{b.Index} {b.Cosine:F5}"))}");
    }

    [Fact]
    public async Task ArcticXs_vectors_match_onnxruntime_node_for_passages_and_prefixed_queries()
    {
        // A quarter of the records, spread over their lengths with the longest kept: the same check at a quarter of the
        // CI's time (all 778, embedded here and by Node, took 143 s of a 2-core run).
        var all = Reference().Records;
        var byLength = Enumerable.Range(0, all.Count).OrderBy(i => Content(all[i]).Length).ToList();
        var kept = byLength.Where((_, rank) => rank % 4 == 0 || rank == all.Count - 1).ToHashSet();
        var records = all.Where((_, i) => kept.Contains(i)).ToList(); // in the file's order
        var passages = records.Select(Content).ToList();
        var queries = records.Select(r => r.GetProperty("title").GetString()!).ToList();
        var model = BuiltInModel.ArcticXs;
        // Queries with the file's weights here; the default int8 query weights are checked against the same vectors below.
        await using var service = new EmbeddingService(new EmbeddingOptions { Model = model.Name, ExecutionProvider = "cpu", QueryWeights = "float32", PassageWeights = "float32" }, NullLogger<EmbeddingService>.Instance);
        Assert.True(service.IsAvailable, service.Status);

        var ours = await service.EmbedAsync(passages, EmbeddingKind.Passage);
        var oursQueries = await service.EmbedAsync(queries, EmbeddingKind.Query);
        var theirs = NodeVectors(passages, model, prefix: "");
        var theirsQueries = NodeVectors(queries, model, prefix: model.QueryPrefix);

        var below = new List<string>();
        for (var i = 0; i < records.Count; i++)
        {
            var p = TensorPrimitives.CosineSimilarity(ours[i], theirs[i]);
            var q = TensorPrimitives.CosineSimilarity(oursQueries[i], theirsQueries[i]);
            if (p < MinCosine) below.Add($"passage #{i} {p:F5}");
            if (q < MinCosine) below.Add($"query #{i} {q:F5}");
        }
        Assert.True(below.Count == 0, $"{below.Count} below {MinCosine}: {string.Join(", ", below.Take(10))}");
        // The prefix and the pooling matter: without them the query vectors are not the same.
        var unprefixed = await service.EmbedTokensAsync([service.Tokenizer!.Encode(queries[0], 512)], EmbeddingKind.Query);
        Assert.True(TensorPrimitives.CosineSimilarity(unprefixed[0], theirsQueries[0]) < 0.99);

        // Queries embedded with int8 weights (the default), close to the float32 path but not equal to it (scifact-train's
        // 809 queries: cosine 0.9968 at least, bench/results, issue 45), beside passages with the file's weights.
        await using var int8 = new EmbeddingService(new EmbeddingOptions { Model = model.Name, ExecutionProvider = "cpu", PassageWeights = "float32" }, NullLogger<EmbeddingService>.Instance);
        Assert.Contains("queries with int8 weights in 36 products", int8.Status);
        var int8Queries = await int8.EmbedAsync(queries, EmbeddingKind.Query);
        var cosines = int8Queries.Select((v, i) => TensorPrimitives.CosineSimilarity(v, theirsQueries[i])).Order().ToArray();
        Assert.True(cosines[0] >= MinInt8QueryCosine, $"int8 query cosine {cosines[0]:F5} < {MinInt8QueryCosine}");
        Assert.True(cosines[cosines.Length / 2] < 0.99999, "int8 query vectors equal float32's: the weights were not quantised");
        Assert.Equal(await int8.EmbedAsync(passages.Take(20).ToArray(), EmbeddingKind.Passage), ours.Take(20).ToArray()); // passages keep the file's weights

        // Passages with int8 weights (the default; scifact-train's chunks: cosine 0.998 at least):
        // each runs alone, so a text gets the same vector whatever it was sent with.
        await using var int8Passages = new EmbeddingService(new EmbeddingOptions { Model = model.Name, ExecutionProvider = "cpu", PassageWeights = "int8" }, NullLogger<EmbeddingService>.Instance);
        Assert.Contains("on CPU, int8 weights in 36 products;", int8Passages.Status);
        var full = await int8Passages.EmbedAsync(passages.Take(20).ToArray(), EmbeddingKind.Passage);
        var passageCosines = full.Select((v, i) => TensorPrimitives.CosineSimilarity(v, theirs[i])).Order().ToArray();
        Assert.True(passageCosines[0] >= MinInt8QueryCosine, $"int8 passage cosine {passageCosines[0]:F5} < {MinInt8QueryCosine}");
        Assert.True(passageCosines[^1] < 0.99999, "int8 passage vectors equal float32's: the weights were not quantised");
        var phrases = passages.Take(12).Select(p => string.Join(' ', p.Split(' ').Take(8 + p.Length % 5))).ToArray(); // short: 4 would share an inference
        var together = await int8Passages.EmbedAsync(phrases, EmbeddingKind.Passage);
        Assert.Equal((await Task.WhenAll(phrases.Select(p => int8Passages.EmbedAsync([p], EmbeddingKind.Passage)))).Select(v => v[0]), together);
    }

    [Fact]
    public void A_built_in_model_file_that_is_missing_or_changed_is_refused_in_one_line()
    {
        foreach (var model in BuiltInModel.All) Assert.Equal(model.Directory, model.Verify()); // as the build extracted them

        var changed = BuiltInModel.MiniLm with { ModelSha256 = new string('0', 64) }; // the same file, another pinned hash
        var mismatch = Assert.Throws<InvalidDataException>(changed.Verify);
        Assert.StartsWith("built-in model 'minilm': ", mismatch.Message);
        Assert.EndsWith($"has sha256 {BuiltInModel.MiniLm.ModelSha256}, expected {changed.ModelSha256}; refusing to load it", mismatch.Message);
        Assert.DoesNotContain('\n', mismatch.Message);

        var missing = Assert.Throws<FileNotFoundException>((BuiltInModel.MiniLm with { Name = "absent" }).Verify);
        Assert.StartsWith("built-in model 'absent' is not in ", missing.Message);
    }

    private static float[][] NodeVectors(List<string> texts, BuiltInModel model, string prefix)
    {
        var ort = Path.Combine(RepoPaths.Tools, "ortnode", "node_modules", "onnxruntime-node");
        var reftok = Path.Combine(RepoPaths.Tools, "reftok", "node_modules", "@huggingface", "tokenizers", "dist", "tokenizers.mjs");
        foreach (var needed in new[] { ort, reftok })
            if (!Path.Exists(needed)) throw new InvalidOperationException($"{needed} is missing: run scripts/setup.sh");
        var script = Path.Combine(AppContext.BaseDirectory, "Reference", "embed.mjs");
        var json = RepoPaths.Run("node", [script, ort, RepoPaths.TokenizerDir, Path.Combine(model.Directory, "model.onnx"), model.Pooling, model.MaxTokens.ToString(), prefix],
            JsonSerializer.Serialize(texts), new Dictionary<string, string> { ["REFTOK_MODULE"] = reftok });
        return JsonSerializer.Deserialize<float[][]>(json)!;
    }
}
