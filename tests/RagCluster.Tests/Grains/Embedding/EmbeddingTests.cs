using System.Numerics.Tensors;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Embedding.Onnx;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Text;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>One embedding service over the random-weight MiniLM-architecture model, shared by the tests.</summary>
public sealed class EmbeddingFixture : IAsyncLifetime
{
    public EmbeddingService Service { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Service = new EmbeddingService(new EmbeddingOptions
        {
            ModelDirectory = RepoPaths.TestModel, MaxBatch = 8, ExecutionProvider = "auto",
        }, NullLogger<EmbeddingService>.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await Service.DisposeAsync();
}

[Trait("Category", "Unit")]
public sealed class EmbeddingTests(EmbeddingFixture fixture) : IClassFixture<EmbeddingFixture>
{
    [Fact]
    public void Encoder_runs_on_the_onnxruntime_package_and_says_which()
    {
        Assert.True(fixture.Service.IsAvailable, fixture.Service.Status);
        Assert.Equal(384, fixture.Service.Dimensions);
        // The version is the NuGet package's (Directory.Packages.props), not a library fetched beside it.
        Assert.Contains("ONNX Runtime 1.31.0 on CPU", fixture.Service.Status); // the one release both builds use
    }

    [Fact]
    public async Task A_query_does_not_wait_behind_a_bulk_ingest_and_passages_are_batched_by_length()
    {
        // 60 documents' chunks of mixed lengths queue up, then a query arrives: it runs next, not after them.
        var rng = new Random(5);
        var bulk = Enumerable.Range(0, 60).Select(_ => Enumerable.Range(0, 4)
            .Select(_ => fixture.Service.TokenIds(string.Join(" ", Enumerable.Range(0, rng.Next(5, 120)).Select(w => $"w{w}")), EmbeddingKind.Passage)).ToArray()).ToList();
        var (texts0, tokens0) = (fixture.Service.Stats.Texts, fixture.Service.PaddingTotals);
        var passages = bulk.Select(seqs => fixture.Service.EmbedTokensAsync(seqs)).ToList();
        var query = fixture.Service.EmbedAsync(["what is a shard?"], EmbeddingKind.Query);
        await query;
        var passagesLeft = passages.Count(p => !p.IsCompleted);
        await Task.WhenAll(passages);
        Assert.True(passagesLeft >= 50, $"the query finished after {60 - passagesLeft} of 60 documents' passages");
        // Sorted by length across documents, the 240 passages pad far less than they would in arrival order.
        var (texts1, tokens1) = (fixture.Service.Stats.Texts, fixture.Service.PaddingTotals);
        var fill = (tokens1.Real - tokens0.Real) / (double)(tokens1.Padded - tokens0.Padded);
        var arrival = bulk.SelectMany(s => s).Chunk(fixture.Service.MaxBatch).Sum(b => b.Sum(x => x.Length)) /
                      (double)bulk.SelectMany(s => s).Chunk(fixture.Service.MaxBatch).Sum(b => b.Length * b.Max(x => x.Length));
        Assert.Equal(241, texts1 - texts0);
        Assert.True(fill > 0.9 && fill > arrival + 0.1, $"padding fill {fill:F3} sorted, {arrival:F3} in arrival order");
    }

    [Fact]
    public async Task Stopping_the_service_cancels_queued_work_and_refuses_new_work()
    {
        var service = new EmbeddingService(new EmbeddingOptions { ModelDirectory = RepoPaths.TestModel, MaxBatch = 2, Runners = 1 },
            NullLogger<EmbeddingService>.Instance);
        var sequences = Enumerable.Range(0, 16).Select(i => service.TokenIds(string.Join(" ", Enumerable.Repeat($"word{i}", 100)), EmbeddingKind.Passage)).ToArray();
        var queued = Enumerable.Range(0, 20).Select(_ => service.EmbedTokensAsync(sequences)).ToList();
        await service.DisposeAsync();
        // The inference running at the stop finishes; nothing queued is left waiting for ever.
        Assert.All(queued, t => Assert.True(t.IsCompleted));
        Assert.Contains(queued, t => t.IsCanceled);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => service.EmbedTokensAsync(sequences));
    }

    [Fact]
    public async Task Vectors_equal_the_torch_reference_across_batch_sizes_and_padding()
    {
        var texts = TokenizerTests.VariedStrings(40, seed: 11).Select(t => t.Length > 600 ? t[..600] : t).ToList();
        texts.Add("short");
        texts.Add(string.Join(" ", Enumerable.Range(0, 400).Select(i => $"word{i}")));
        texts.Add("");
        var ids = texts.Select(t => fixture.Service.TokenIds(t, EmbeddingKind.Passage)).ToArray();
        var reference = ReferenceVectors(ids);

        // Whole set in one call (batched by 8 with padding), then one by one, then concurrent callers.
        var batched = await fixture.Service.EmbedTokensAsync(ids);
        var single = new List<float[]>();
        foreach (var s in ids) single.Add((await fixture.Service.EmbedTokensAsync([s]))[0]);
        var concurrent = await Task.WhenAll(ids.Select(s => fixture.Service.EmbedTokensAsync([s])));

        for (var i = 0; i < ids.Length; i++)
        {
            foreach (var (name, v) in new[] { ("batched", batched[i]), ("single", single[i]), ("concurrent", concurrent[i][0]) })
            {
                var cos = TensorPrimitives.CosineSimilarity(v, reference[i]);
                Assert.True(cos >= 0.999, $"{name} #{i} ({ids[i].Length} tokens): cosine {cos:F6}");
                Assert.Equal(1.0, TensorPrimitives.Norm(v), 3);
            }
        }
        Assert.Contains(ids, s => s.Length == 256); // the 256-token limit was reached and padding mixed lengths
    }

    [Fact]
    public async Task Prefixes_apply_to_queries_only_when_configured()
    {
        await using var e5 = new EmbeddingService(new EmbeddingOptions
        {
            ModelDirectory = RepoPaths.TestModel, QueryPrefix = "query: ", PassagePrefix = "passage: ",
        }, NullLogger<EmbeddingService>.Instance);
        var tok = WordPieceTokenizer.FromDirectory(RepoPaths.TestModel);
        Assert.Equal(tok.Encode("query: hello", 256), e5.TokenIds("hello", EmbeddingKind.Query));
        Assert.Equal(tok.Encode("passage: hello", 256), e5.TokenIds("hello", EmbeddingKind.Passage));
    }

    [Fact]
    public async Task Missing_model_or_cuda_says_so_clearly()
    {
        await using var none = new EmbeddingService(new EmbeddingOptions { Model = "none" }, NullLogger<EmbeddingService>.Instance);
        Assert.False(none.IsAvailable);
        Assert.Contains("dense retrieval is off", none.Status);
        await Assert.ThrowsAsync<EmbeddingUnavailableException>(() => none.EmbedAsync(["x"], EmbeddingKind.Query));

        await using var missing = new EmbeddingService(new EmbeddingOptions { ModelDirectory = "/nonexistent/model" }, NullLogger<EmbeddingService>.Instance);
        Assert.False(missing.IsAvailable);
        Assert.Contains("no model.onnx", missing.Status);

        // The CPU package has no CUDA provider: asking for it explicitly fails start-up with one line that says what
        // to do; "auto" falls back to the CPU.
        var cudaOptions = new EmbeddingOptions { ModelDirectory = RepoPaths.TestModel, ExecutionProvider = "cuda" };
        var error = Assert.Throws<CudaUnavailableException>(() => new EmbeddingService(cudaOptions, NullLogger<EmbeddingService>.Instance));
        Assert.StartsWith("Embedding:ExecutionProvider is 'cuda' but this ONNX Runtime 1.31.0 cannot start it", error.Message);
        Assert.Contains("-p:OnnxRuntimeGpu=true", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("on CPU", fixture.Service.Status); // the fixture asked for "auto"
    }

    [Fact]
    public async Task The_hashing_encoder_needs_only_a_tokenizer_and_keeps_shared_words_near()
    {
        // The tokenizer's folder has no model.onnx: the onnx encoder cannot start there, the hashing one can.
        await using var hashing = new EmbeddingService(new EmbeddingOptions { ModelDirectory = RepoPaths.TokenizerDir, Encoder = "hashing", HashingDimensions = 256 },
            NullLogger<EmbeddingService>.Instance);
        Assert.True(hashing.IsAvailable, hashing.Status);
        Assert.Equal(256, hashing.Dimensions);
        Assert.Contains("hashing encoder (no model, no inference)", hashing.Status);
        Assert.Equal("none", hashing.ExecutionProvider);

        var texts = new[] { "protein folding in the cell", "folding of a protein in water", "interest rates and inflation", "" };
        var vectors = await hashing.EmbedAsync(texts, EmbeddingKind.Passage);
        Assert.All(vectors, v => Assert.Equal(1f, TensorPrimitives.Norm(v), 3)); // unit length, the empty text too
        Assert.Equal(vectors[0], (await hashing.EmbedAsync([texts[0]], EmbeddingKind.Query))[0]); // the same text, the same vector
        var query = (await hashing.EmbedAsync(["protein folding"], EmbeddingKind.Query))[0];
        var similarities = vectors.Take(3).Select(v => TensorPrimitives.Dot(query, v)).ToArray();
        Assert.True(similarities[0] > similarities[1] && similarities[1] > similarities[2], string.Join(", ", similarities));

        Assert.Throws<ArgumentException>(() => new EmbeddingService(new EmbeddingOptions { ModelDirectory = RepoPaths.TokenizerDir, Encoder = "fast" },
            NullLogger<EmbeddingService>.Instance));
    }

    private static float[][] ReferenceVectors(int[][] ids)
    {
        var dir = Directory.CreateTempSubdirectory("rc-ref");
        try
        {
            var idsPath = Path.Combine(dir.FullName, "ids.json");
            var outPath = Path.Combine(dir.FullName, "out.bin");
            File.WriteAllText(idsPath, JsonSerializer.Serialize(ids));
            RepoPaths.Run("/usr/bin/python3", [Path.Combine(RepoPaths.Root, "scripts", "make_test_model.py"), "reference", RepoPaths.TestModel, idsPath, outPath]);
            var floats = new float[ids.Length * 384];
            var bytes = File.ReadAllBytes(outPath);
            Buffer.BlockCopy(bytes, 0, floats, 0, bytes.Length);
            return Enumerable.Range(0, ids.Length).Select(i => floats.AsSpan(i * 384, 384).ToArray()).ToArray();
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
