using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RagCluster.Grains.Chunking;
using RagCluster.Grains.Collections;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Embedding.Onnx;
using RagCluster.Grains.Extraction;
using RagCluster.Grains.Text;

namespace RagCluster.Bench.Rag;

/// <summary>
/// Ingestion against the encoder's own limit, in one run. The limit: the very chunks a default collection makes of
/// the corpus (same extractor, chunker, tokenizer and prefix), through a BertEncoder with the silo's default session
/// options and as many inferences at once as the silo runs (Embedding:Runners), sorted by length, in the best batch
/// size of a sweep, with nothing else running; or, when it is faster, the silo's own batcher (an EmbeddingService)
/// fed the same chunks with nothing else running. Then the corpus goes through the shipped processes (see BenchCluster:
/// 1 silo on SQLite, more on PostgreSQL and Redis), warmed up first, for each silo count (batch form of
/// POST .../documents, 1,000 per request; statuses polled oldest first), and the ratio of the two chunk rates is printed,
/// with the whole machine's and the runner threads' CPU per chunk; then once more with no model on the silos, for what the
/// rest costs.
/// </summary>
public static class IngestBench
{
    private const int SweepSample = 640;
    internal const int WarmupDocuments = 1000;

    public static async Task Run(string binDir, string modelDir, string corpusDir, int docs, int[] siloCounts, int[] batches)
    {
        var corpus = LoadCorpus(corpusDir, docs);

        var options = new EmbeddingOptions { ModelDirectory = modelDir };
        var tokenizer = WordPieceTokenizer.FromDirectory(modelDir);
        var perDocument = ChunkSequences(modelDir, corpus);
        using (var encoder = new BertEncoder(Path.Combine(modelDir, "model.onnx"), tokenizer, options))
        {
            var sequences = perDocument.SelectMany(d => d).ToList();
            Console.Error.WriteLine($"{corpus.Count} documents, {sequences.Count} chunks, mean {sequences.Average(s => s.Length):F0} tokens");

            // Sweep on a seeded sample, then the best batch size over every chunk: that rate is the limit.
            var sample = sequences.OrderBy(StableOrder).Take(SweepSample).ToList();
            encoder.Encode(sample.Take(8).ToList()); // warm-up
            var best = (Batch: 0, Rate: 0.0);
            foreach (var b in batches)
            {
                var rate = EncodeAll(encoder, sample, b, options.EffectiveRunners);
                Console.WriteLine(JsonSerializer.Serialize(new { bench = "encoder_sweep", batch = b, chunks = sample.Count, chunks_per_s = rate }));
                if (rate > best.Rate) best = (b, rate);
            }
            var limit = EncodeAll(encoder, sequences, best.Batch, options.EffectiveRunners);
            Console.WriteLine(JsonSerializer.Serialize(new { bench = "encoder_limit", batch = best.Batch, runners = options.EffectiveRunners, chunks = sequences.Count, chunks_per_s = limit }));
            // The silo's own batcher (an EmbeddingService with the default options) with nothing else running: each
            // document's chunks one request, in corpus order. What the ingest loses beyond this is the rest of the silo.
            var service = ServiceRate(modelDir, perDocument);
            Console.WriteLine(JsonSerializer.Serialize(new { bench = "encoder_service", chunks = sequences.Count, chunks_per_s = service, ratio_to_limit = service / limit }));
            // The sweep's sample is small and one rate moves by a few per cent from run to run: when the service alone
            // beat the best swept batch size over every chunk, its rate is the limit (the stricter of the two).
            limit = Math.Max(limit, service);
            // The encoder's CPU per chunk at the limit: every core for 1/limit seconds.
            var encoderCpuMs = Environment.ProcessorCount * 1000 / limit;
            foreach (var silos in siloCounts)
            {
                var (chunks, seconds, submitSeconds, fill, cpuMs, runnerMs, _, _, _) = await IngestAsync(binDir, modelDir, corpus, silos, bulkPaths: silos == siloCounts[0]);
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "ingest_vs_encoder", silos, documents = corpus.Count, chunks, seconds, submit_seconds = submitSeconds,
                    docs_per_s = corpus.Count / seconds, chunks_per_s = chunks / seconds, mean_embedding_batch = fill, encoder_limit_chunks_per_s = limit,
                    ratio = chunks / seconds / limit, machine_cpu_ms_per_chunk = cpuMs, runner_cpu_ms_per_chunk = runnerMs,
                    encoder_cpu_ms_per_chunk_at_limit = encoderCpuMs,
                }));
                // The same ingest with no model on the silos (BM25 only: no encoder, no vectors to ship, store or link into
                // HNSW): what the rest of the pipeline costs per chunk at the least. On cores the encoder shares, a ratio r
                // leaves at most encoder_cpu * (1/r - 1) per chunk for it (a quarter of the encoder's at r = 0.8).
                var bare = await IngestAsync(binDir, "", corpus, silos, bulkPaths: false);
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "ingest_without_encoder", silos, documents = corpus.Count, chunks = bare.Chunks, seconds = bare.Seconds,
                    chunks_per_s = bare.Chunks / bare.Seconds, machine_cpu_ms_per_chunk = bare.CpuMs,
                    budget_ms_per_chunk_at_0_8 = encoderCpuMs * (1 / 0.8 - 1),
                }));
                await CeilingAsync(binDir, modelDir, corpus, silos);
            }
        }
    }

    /// <summary>
    /// The ceiling of the text pipeline (issue 34, item 5): the same ingest with the hashing encoder on the silos
    /// (Embedding:Encoder = hashing: vectors from the word pieces, no inference), so everything but the model runs as
    /// it does with one: extract, chunk, the embedding call and its batcher, store, BM25 and HNSW.
    /// </summary>
    public static async Task CeilingAsync(string binDir, string tokenizerDir, List<(string Id, string Text)> corpus, int silos)
    {
        var run = await IngestAsync(binDir, tokenizerDir, corpus, silos, bulkPaths: false, "--Embedding:Encoder", "hashing");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "ingest_hashing_encoder", silos, documents = corpus.Count, chunks = run.Chunks, seconds = run.Seconds, submit_seconds = run.SubmitSeconds,
            docs_per_s = corpus.Count / run.Seconds, chunks_per_s = run.Chunks / run.Seconds, mean_embedding_batch = run.MeanBatch,
            machine_cpu_ms_per_chunk = run.CpuMs,
            sqlite_writer_held_s = run.WriterHeld, // the SQLite file's one write turn, held by the silos over the load (0 on PostgreSQL)
            // Bytes the silos handed to write calls (/proc/PID/io wchar) from the first document to the last indexed, a chunk (issue 84, item 4).
            written_bytes_per_chunk = Math.Round(run.WrittenPerChunk),
            // by site, [held, waited] s: waits are summed over concurrent writes, so they can exceed the load's seconds
            sqlite_writer_sites = run.WriterSites.ToDictionary(s => s.Key, s => s.Value.Select(x => Math.Round(x, 3)).ToArray()),
        }));
    }

    /// <summary>The corpus' first <paramref name="docs"/> documents (0: all) as the batch form's "json" documents.</summary>
    internal static List<(string Id, string Text)> LoadCorpus(string corpusDir, int docs) =>
        File.ReadLines(Path.Combine(corpusDir, "corpus.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (Id: e.GetProperty("_id").GetString()!, Text: JsonSerializer.Serialize(new { title = e.GetProperty("title").GetString(), text = e.GetProperty("text").GetString() })))
            .Take(docs > 0 ? docs : int.MaxValue).ToList();

    // A fixed pseudo-random order, so every run sweeps the same sample.
    private static uint StableOrder(int[] s)
    {
        var h = 2166136261u;
        foreach (var t in s) h = (h ^ (uint)t) * 16777619u;
        return h;
    }

    /// <summary>
    /// The model inputs of a default collection's chunks of the corpus, per document (extractor, chunker, tokenizer and
    /// framing as the silo's), for comparing encoders on the very inputs ingest gives them.
    /// </summary>
    internal static List<int[][]> ChunkSequences(string modelDir, List<(string Id, string Text)> corpus)
    {
        var options = new EmbeddingOptions { ModelDirectory = modelDir }.Resolved();
        var tokenizer = WordPieceTokenizer.FromDirectory(modelDir);
        var chunker = new Chunker(new ChunkingOptions { MaxTokens = CollectionDefaults.ModelWindow(options), OverlapTokens = new CollectionDefaults().ChunkOverlapTokens },
            new WordPieceTokenCounter(tokenizer));
        return corpus
            .Select(d => chunker.Chunk(DocumentExtractor.Extract("json", Encoding.UTF8.GetBytes(d.Text))).Select(c => tokenizer.Encode(options.PassagePrefix + c.Text, options.MaxTokens)).ToArray())
            .Where(d => d.Length > 0).ToList();
    }

    /// <summary>Chunks/s through the silo's batcher (an EmbeddingService with the default options), one request a document.</summary>
    internal static double ServiceRate(string modelDir, List<int[][]> documents, int intraOpThreads = 0, int padToMultipleOf = 0, string passageWeights = "float32")
    {
        var service = new EmbeddingService(new EmbeddingOptions { ModelDirectory = modelDir, IntraOpThreads = intraOpThreads, PadToMultipleOf = padToMultipleOf, PassageWeights = passageWeights }, Microsoft.Extensions.Logging.Abstractions.NullLogger<EmbeddingService>.Instance);
        try
        {
            service.EmbedTokensAsync(documents.Take(4).SelectMany(d => d).ToArray()).GetAwaiter().GetResult(); // warm-up
            var sw = Stopwatch.StartNew();
            Task.WaitAll(documents.Select(d => service.EmbedTokensAsync(d)).ToArray());
            return documents.Sum(d => d.Length) / sw.Elapsed.TotalSeconds;
        }
        finally
        {
            service.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    // As the silo runs the encoder: Embedding:Runners inferences at once on the one session (one per core on CPU).
    private static double EncodeAll(BertEncoder encoder, List<int[]> sequences, int batch, int runners)
    {
        var sorted = sequences.OrderBy(s => s.Length).ToList();
        var next = -1;
        var sw = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, runners).Select(_ => new Thread(() =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next) * batch) < sorted.Count) encoder.Encode(sorted.GetRange(i, Math.Min(batch, sorted.Count - i)));
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return sorted.Count / sw.Elapsed.TotalSeconds;
    }

    private static async Task<(int Chunks, double Seconds, double SubmitSeconds, double? MeanBatch, double CpuMs, double RunnerMs, double WriterHeld, Dictionary<string, double[]> WriterSites,
        double WrittenPerChunk)> IngestAsync(string binDir,
        string modelDir, List<(string Id, string Text)> corpus, int silos, bool bulkPaths, params string[] extra)
    {
        await using var cluster = await BenchCluster.StartAsync(binDir, modelDir, silos, extra);
        var http = cluster.Http;
        // A fresh process compiles its code as it first runs it (tiered JIT); a cluster that has been up a while has
        // done so. The corpus' first documents go into a collection of their own before the clock starts: 1,000, one
        // full batch request. After 300, the tier-1 compiler still took 6.2 % of a core (API silo and silos together)
        // 20 s into a 3-silo ingest; after 1,200, under 0.7 % in each process.
        var warm = await IngestCollectionAsync(http, "warmup", corpus.Take(WarmupDocuments).ToList());
        var settle = await cluster.WaitUntilQuietAsync(TimeSpan.FromSeconds(60));
        Console.Error.WriteLine($"warm-up: {Math.Min(WarmupDocuments, corpus.Count)} documents in {warm.Seconds:F1} s, then {settle:F1} s until the cluster was quiet");
        var before = await EmbeddingCountersAsync(http);
        var heldBefore = await WriterHeldAsync(http);
        var sitesBefore = WriterSites(await http.GetStringAsync("metrics"));
        var (busyBefore, runnersBefore, writtenBefore) = (MachineBusy(), cluster.RunnerCpu(), ScaleBench.Written(cluster));
        var (chunks, seconds, submit) = await IngestCollectionAsync(http, "bench", corpus);
        var (busy, runners, written) = (MachineBusy() - busyBefore, cluster.RunnerCpu() - runnersBefore, ScaleBench.Written(cluster) - writtenBefore);
        var held = await WriterHeldAsync(http) - heldBefore;
        var sites = WriterSites(await http.GetStringAsync("metrics"));
        foreach (var (site, s) in sites) if (sitesBefore.TryGetValue(site, out var b)) sites[site] = [s[0] - b[0], s[1] - b[1]];
        var after = await EmbeddingCountersAsync(http);
        double? fill = after.Batches > before.Batches ? (after.Texts - before.Texts) / (after.Batches - before.Batches) : null;
        if (bulkPaths) await BulkPathsAsync(cluster, silos);
        return (chunks, seconds, submit, fill, busy.TotalMilliseconds / chunks, runners.TotalMilliseconds / chunks, held, sites, (double)written / chunks);
    }

    // Per writing site (class.method), [held, waited] seconds of the SQLite write turn so far: which writes queue behind which.
    private static Dictionary<string, double[]> WriterSites(string metrics)
    {
        var sites = new Dictionary<string, double[]>();
        foreach (var (name, slot) in new[] { ("rc_store_sqlite_write_held_seconds_total", 0), ("rc_store_sqlite_write_waited_seconds_total", 1) })
            foreach (var line in metrics.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal)))
            {
                var site = System.Text.RegularExpressions.Regex.Match(line, "site=\"([^\"]*)\"").Groups[1].Value;
                (sites.TryGetValue(site, out var v) ? v : sites[site] = new double[2])[slot] += ScaleBench.Metric(line, name);
            }
        return sites;
    }

    // The API silo's count: the embedded default's one process (a cluster's silos write to PostgreSQL, which has no such turn).
    private static async Task<double> WriterHeldAsync(HttpClient http) =>
        ScaleBench.Metric(await http.GetStringAsync("metrics"), "rc_store_sqlite_write_held_seconds_total");

    /// <summary>
    /// CPU time the whole machine has spent busy (every process and the kernel: the silos, PostgreSQL, Redis, this
    /// client), from /proc/stat: the cluster's cost, counted wherever it runs.
    /// </summary>
    internal static TimeSpan MachineBusy()
    {
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Select(long.Parse).ToArray();
        var ticks = f[0] + f[1] + f[2] + f[5] + f[6]; // user, nice, system, irq, softirq (not idle, iowait, or a VM's steal)
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
    }

    /// <summary>
    /// Submits the documents (batch form, 1,000 per request) into a new collection and waits until each is indexed.
    /// Statuses are polled oldest first, as the CLI polls them (<see cref="RagCluster.Client.StatusWindow"/>), a second apart while any of
    /// those asked about is pending: a poll of every pending document would load the cluster being measured.
    /// </summary>
    internal static async Task<(int Chunks, double Seconds, double SubmitSeconds)> IngestCollectionAsync(HttpClient http, string collection,
        List<(string Id, string Text)> documents)
    {
        // BENCH_LANGUAGE=german: the collection's BM25 cuts terms with that language's analyzer (issue 74, item 2).
        var language = Environment.GetEnvironmentVariable("BENCH_LANGUAGE") is { Length: > 0 } named ? named : null;
        (await http.PostAsJsonAsync("v1/collections", new { name = collection, language })).EnsureSuccessStatusCode();
        var sw = Stopwatch.StartNew();
        foreach (var batch in documents.Chunk(1000))
        {
            var r = await http.PostAsJsonAsync($"v1/collections/{collection}/documents", new { documents = batch.Select(d => new { id = d.Id, format = "json", text = d.Text }) });
            r.EnsureSuccessStatusCode();
        }
        var submit = sw.Elapsed.TotalSeconds;
        var chunks = await WaitIndexedAsync(http, collection, documents.Select(d => d.Id));
        return (chunks, sw.Elapsed.TotalSeconds, submit);
    }

    /// <summary>Waits until each of the documents is indexed (oldest first, a window at a time); returns their chunks.</summary>
    internal static async Task<int> WaitIndexedAsync(HttpClient http, string collection, IEnumerable<string> ids)
    {
        var chunks = 0;
        var pending = new Queue<string>(ids);
        var size = new RagCluster.Client.StatusWindow();
        while (pending.Count > 0)
        {
            var window = pending.Take(size.Size).ToList();
            var r = await http.PostAsJsonAsync($"v1/collections/{collection}/documents/statuses", new { ids = window });
            r.EnsureSuccessStatusCode();
            var done = new HashSet<string>();
            foreach (var d in (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("documents").EnumerateArray())
            {
                var status = d.GetProperty("status").GetString();
                if (status == "pending") continue;
                if (status != "indexed") throw new InvalidOperationException($"document {d.GetProperty("documentId")} ended {status}: {d.GetProperty("error")}");
                chunks += d.GetProperty("chunkCount").GetInt32();
                done.Add(d.GetProperty("documentId").GetString()!);
            }
            pending = new Queue<string>(pending.Where(id => !done.Contains(id)));
            if (!size.Took(window.Count, done.Count)) await Task.Delay(1000);
        }
        return chunks;
    }

    // The other bulk paths on the ingested corpus: backup, restore into a new collection, and shards brought back from
    // their snapshots (plus log tails) after every process is killed.
    private static async Task BulkPathsAsync(BenchCluster cluster, int silos)
    {
        var sw = Stopwatch.StartNew();
        var archive = await cluster.Http.GetByteArrayAsync("v1/collections/bench/backup");
        var backup = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var restored = await cluster.Http.PostAsync("v1/restore/bench2", new ByteArrayContent(archive));
        restored.EnsureSuccessStatusCode();
        var restore = sw.Elapsed.TotalSeconds;
        var body = await restored.Content.ReadFromJsonAsync<JsonElement>();
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "bulk_paths", silos, backup_s = backup, archive_mb = archive.Length / 1048576.0, restore_s = restore,
            restored_documents = body.GetProperty("documents").GetInt32(), restored_chunks = body.GetProperty("chunks").GetInt32(),
        }));

        var before = await cluster.Http.GetFromJsonAsync<JsonElement>("v1/collections/bench/shards");
        await cluster.RestartAsync();
        sw.Restart();
        // The first search activates every shard of the collection: snapshot read, log tail replayed in bulk.
        (await cluster.Http.PostAsJsonAsync("v1/collections/bench/search", new { query = "protein folding in cells", topK = 10 })).EnsureSuccessStatusCode();
        var first = sw.Elapsed.TotalSeconds;
        sw.Restart();
        (await cluster.Http.PostAsJsonAsync("v1/collections/bench/search", new { query = "vaccine trial outcomes", topK = 10 })).EnsureSuccessStatusCode();
        var second = sw.Elapsed.TotalSeconds;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "shard_reload", silos, first_search_s = first, next_search_s = second,
            chunks = before.EnumerateArray().Sum(x => x.GetProperty("chunks").GetInt32()),
            log_entries_replayed = before.EnumerateArray().Sum(x => x.GetProperty("logEntries").GetInt32()),
        }));
    }

    // Texts and inferences so far on the API silo, from its own /metrics.
    private static async Task<(double Texts, double Batches)> EmbeddingCountersAsync(HttpClient http)
    {
        var text = await http.GetStringAsync("metrics");
        double Value(string name) => text.Split('\n').Where(l => l.StartsWith(name + "{") || l.StartsWith(name + " "))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        return (Value("rc_embedding_batch_size_sum"), Value("rc_embedding_batch_size_count"));
    }
}
