using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Orleans;
using Orleans.Runtime;
using Orleans.TestingHost;
using RagCluster.Grains;
using RagCluster.Grains.Interfaces.Caching;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Placement;
using RagCluster.Hosting.Diagnostics;
using RagCluster.Metadata;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>The whole pipeline on a 3-silo cluster: ingest a real corpus, lose a silo mid-ingest, then ask.</summary>
[Collection("cluster")]
public sealed class PipelineClusterTests(PostgresFixture postgres, Xunit.Abstractions.ITestOutputHelper output)
{
    private sealed record Doc(string Id, string Title, string Text);

    // SciFact abstracts (BEIR, ../shared/eval) with the training claims whose relevant abstract is among them.
    private static (List<Doc> Docs, List<(string Query, string DocId)> Questions) Corpus(int docs)
    {
        var dir = Path.Combine(RepoPaths.Root, "..", "shared", "eval", "scifact-train");
        var corpus = File.ReadLines(Path.Combine(dir, "corpus.jsonl")).Take(4000).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => new Doc(e.GetProperty("_id").GetString()!, e.GetProperty("title").GetString()!, e.GetProperty("text").GetString()!)).ToList();
        var qrels = File.ReadLines(Path.Combine(dir, "qrels", "train.tsv")).Skip(1).Select(l => l.Split('\t')).ToList();
        var queries = File.ReadLines(Path.Combine(dir, "queries.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(e => e.GetProperty("_id").GetString()!, e => e.GetProperty("text").GetString()!);
        var byId = corpus.ToDictionary(d => d.Id);
        // Pick documents that answer some claim first, then fill up with others.
        var relevant = qrels.Where(q => byId.ContainsKey(q[1])).Select(q => q[1]).Distinct().Take(docs / 2).ToHashSet();
        var chosen = corpus.Where(d => relevant.Contains(d.Id)).Concat(corpus.Where(d => !relevant.Contains(d.Id))).Take(docs).ToList();
        var chosenIds = chosen.Select(d => d.Id).ToHashSet();
        var questions = qrels.Where(q => chosenIds.Contains(q[1]) && queries.ContainsKey(q[0]))
            .GroupBy(q => q[0]).Where(g => g.Count() == 1).Select(g => (queries[g.Key], g.First()[1])).Take(40).ToList();
        return (chosen, questions);
    }

    private static Dictionary<string, string?> Settings(double latencyBudgetMs = 2000) => new()
    {
        ["Embedding:ModelDirectory"] = RepoPaths.TestModel,
        ["Collections:ShardCount"] = "4",
        ["Query:LatencyBudgetMs"] = latencyBudgetMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>In-process silos on a shared SQLite file (or the given store); the same service id reopens the same state.</summary>
    private static Task<RagTestCluster> NewCluster(int silos = 1, string? storage = null, double latencyBudgetMs = 2000, string? serviceId = null) =>
        RagTestCluster.StartAsync(silos, storage, Settings(latencyBudgetMs), serviceId);

    [Fact]
    public async Task Over_the_latency_budget_a_query_runs_lexical_only_and_is_not_cached()
    {
        await using var cluster = await NewCluster(latencyBudgetMs: 0); // no time at all for the query embedding
        var grains = cluster.Grains;
        await grains.GetGrain<IDocumentGrain>("budget/a").Ingest(new IngestRequest("txt", "budgeted lexical search"u8.ToArray(), [], null));
        while ((await grains.GetGrain<IDocumentGrain>("budget/a").GetStatus()).Status == DocumentStatuses.Pending) await Task.Delay(50);
        var plans = grains.GetGrain<IQueryPlanGrain>("budget");
        var first = await plans.Search(new SearchRequest("lexical search", 3, null, null));
        Assert.Equal("bm25", first.Plan);
        Assert.Equal(["bm25"], first.CandidatePlans);
        Assert.Single(first.Hits);
        var second = await plans.Search(new SearchRequest("lexical search", 3, null, null));
        Assert.False(second.Cached);
        Assert.Equal(2, (await plans.GetStats()).OverBudget);
    }

    /// <summary>Holds an exclusive lock on the tables until the returned lock is rolled back or disposed.</summary>
    private static async Task<TableLock> LockTablesAsync(string dsn, params string[] tables)
    {
        var db = new Npgsql.NpgsqlConnection(dsn);
        await db.OpenAsync();
        var held = await db.BeginTransactionAsync();
        await using (var command = new Npgsql.NpgsqlCommand($"LOCK TABLE {string.Join(", ", tables)} IN ACCESS EXCLUSIVE MODE", db, held))
            await command.ExecuteNonQueryAsync();
        return new TableLock(db, held);
    }

    private sealed class TableLock(Npgsql.NpgsqlConnection db, Npgsql.NpgsqlTransaction held) : IAsyncDisposable
    {
        public Task RollbackAsync() => held.RollbackAsync();

        public async ValueTask DisposeAsync()
        {
            await held.DisposeAsync();
            await db.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_cancelled_search_stops_in_the_grain_where_it_waits_and_is_counted()
    {
        var dsn = await postgres.NewDatabaseAsync();
        await using var cluster = await NewCluster(storage: dsn);
        var plans = cluster.Grains.GetGrain<IQueryPlanGrain>("stall");
        await cluster.Grains.GetGrain<ICollectionGrain>("stall").Create(new CollectionSettings(2, 256, 32));
        // The database stalls for the shards' logs (a lock held, as in a long migration): the search waits for its shards.
        await using var stall = await LockTablesAsync(dsn, "ragcluster_log_owner", "ragcluster_log", "ragcluster_log_snapshot");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => plans.Search(new SearchRequest("anything", 3, null, "bm25"), cancel.Token));
        // The grain itself stopped (not only its caller), while the shards still wait for the database.
        await Poll.UntilAsync(async () => (await plans.GetStats()).Cancelled == 1, seconds: 20);
        Assert.Equal(0, (await plans.GetStats()).Queries);
        await stall.RollbackAsync();
        Assert.Equal("bm25", (await plans.Search(new SearchRequest("anything", 3, null, "bm25"))).Plan);
        Assert.Equal((1L, 1L), ((await plans.GetStats()).Queries, (await plans.GetStats()).Cancelled));
    }

    [Fact]
    public async Task A_restore_whose_caller_goes_away_is_given_up_at_once_not_when_its_lease_lapses()
    {
        var dsn = await postgres.NewDatabaseAsync();
        // A lease of 10 minutes: only the restore giving itself up can free the name within this test.
        await using var cluster = await RagTestCluster.StartAsync(1, dsn, new() { ["Backup:RestoreLease"] = "00:10:00" });
        var grains = cluster.Grains;
        await grains.GetGrain<ICollectionGrain>("t.src").Create(new CollectionSettings(2, 256, 32) { Dimensions = 4 });
        var documents = Enumerable.Range(0, 20).Select(i => ($"d{i}", new IngestRequest(RagCluster.Grains.Interfaces.Documents.OwnVectorChunks.Format,
            RagCluster.Grains.Interfaces.Documents.OwnVectorChunks.Encode([new($"chunk {i}", [1, i, 0, 0])], 4), [], null))).ToList();
        await RagCluster.Grains.Documents.DocumentBatch.IngestAsync(grains, "t.src", documents, ReadAccess.All, default);
        await Poll.UntilAsync(async () => await grains.GetGrain<ICollectionGrain>("t.src").GetInfo() is { DocumentCount: 20, UnsettledCount: 0 });
        using var archive = new MemoryStream();
        await RagCluster.Grains.Backup.CollectionArchive.WriteAsync(grains, "t.src", "src", archive);
        archive.Position = 0;

        // The database stalls for the shards' logs (not for the owner rows, which the collection's registry shares): the
        // restore's new shards cannot load, so its writes wait, while the collection still answers.
        await using var stall = await LockTablesAsync(dsn, "ragcluster_log", "ragcluster_log_snapshot");
        using var gone = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RagCluster.Grains.Backup.CollectionArchive.RestoreAsync(grains, "t", "copy", archive, gone.Token));
        // It stopped waiting for the shards, well inside a grain call's 30 s timeout, and gave the restore up itself.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the restore took {clock.Elapsed} to stop");
        Assert.False(await grains.GetGrain<ICollectionGrain>("t.copy").Exists());
        await stall.RollbackAsync();
        await grains.GetGrain<ICollectionGrain>("t.copy").Create(new CollectionSettings(2, 256, 32) { Dimensions = 4 }); // the name is free
    }

    [Fact]
    public async Task Every_document_is_indexed_exactly_once_after_a_silo_dies_mid_ingest_and_answers_cite_the_right_document()
    {
        await using var cluster = await NewCluster(silos: 3);
        var client = cluster.Grains; // the test cluster's client fails over between the silos' gateways
        var (docs, questions) = Corpus(120);

        // Ingest from a client on silo 0; kill silo 2 after a third of the documents were submitted.
        var submitted = 0;
        var ingest = Task.Run(async () =>
        {
            foreach (var d in docs)
            {
                var body = JsonSerializer.SerializeToUtf8Bytes(new { title = d.Title, text = d.Text });
                await Retry(() => client.GetGrain<IDocumentGrain>($"sci/{d.Id}").Ingest(new IngestRequest("json", body, new() { ["source"] = "scifact" }, null)));
                Interlocked.Increment(ref submitted);
            }
        });
        while (Volatile.Read(ref submitted) < docs.Count / 3 && !ingest.IsCompleted) await Task.Delay(20);
        // Bounded waits: a hang here must fail the test with its step named, never stall the whole run.
        await cluster.KillAsync(cluster.Cluster.Silos[2]).WaitAsync(TimeSpan.FromSeconds(60));
        await ingest.WaitAsync(TimeSpan.FromSeconds(240));

        // Every document ends indexed (pending ones resume on the survivors).
        var deadline = DateTime.UtcNow.AddSeconds(120);
        List<DocumentStatus> statuses;
        while (true)
        {
            statuses = (await Task.WhenAll(docs.Select(d => Retry(() => client.GetGrain<IDocumentGrain>($"sci/{d.Id}").GetStatus())))
                .WaitAsync(TimeSpan.FromSeconds(120))).ToList();
            if (statuses.All(s => s.Status == DocumentStatuses.Indexed) || DateTime.UtcNow > deadline) break;
            await Task.Delay(500);
        }
        Assert.All(statuses, s => Assert.Equal(DocumentStatuses.Indexed, s.Status));
        Assert.All(statuses, s => Assert.True(s.ChunkCount > 0));

        // Exactly once: per document, the chunks across all shards equal its chunk count (none lost, none doubled).
        var counts = new Dictionary<string, int>();
        var sciShards = await client.ShardKeysAsync("sci");
        foreach (var key in sciShards)
            foreach (var (doc, n) in await Retry(() => client.GetGrain<IIndexShardGrain>(key).ChunkCounts()))
                counts[doc] = counts.GetValueOrDefault(doc) + n;
        Assert.All(statuses, s => Assert.Equal(s.ChunkCount, counts.GetValueOrDefault(s.DocumentId)));
        Assert.Equal(docs.Count, (await client.GetGrain<ICollectionGrain>("sci").GetInfo()).DocumentCount);

        // Re-ingesting the same content is a no-op (same version).
        var first = docs[0];
        var again = await client.GetGrain<IDocumentGrain>($"sci/{first.Id}").Ingest(new IngestRequest("json",
            JsonSerializer.SerializeToUtf8Bytes(new { title = first.Title, text = first.Text }), new() { ["source"] = "scifact" }, null));
        Assert.Equal(statuses[0].Version, again.Version);

        // Claims whose evidence is in the corpus find their abstract in the top 3 (lexical plan: the test model's weights are random).
        var top3 = 0;
        foreach (var (query, docId) in questions)
        {
            var r = await client.GetGrain<IQueryPlanGrain>("sci").Search(new SearchRequest(query, 3, null, "bm25"));
            if (r.Hits.Any(h => h.DocumentId == docId)) top3++;
        }
        Assert.True(questions.Count >= 20, $"only {questions.Count} questions");
        Assert.True(top3 >= questions.Count * 0.7, $"right document in top 3 for {top3} of {questions.Count} claims");

        // Auto plan: candidate plans include dense ones, hybrid fusion runs, and the answer is cached on repeat.
        var auto = await client.GetGrain<IQueryPlanGrain>("sci").Search(new SearchRequest(questions[0].Query, 5, null, null));
        Assert.Contains("hybrid", auto.CandidatePlans);
        Assert.Contains("vector", auto.CandidatePlans);
        Assert.False(auto.Cached);
        Assert.True((await client.GetGrain<IQueryPlanGrain>("sci").Search(new SearchRequest(questions[0].Query, 5, null, null))).Cached);

        // Delete removes the document's chunks from every shard and bumps the version (so the cache misses).
        await client.GetGrain<IDocumentGrain>($"sci/{first.Id}").Delete();
        var total = 0;
        foreach (var key in sciShards)
            total += (await client.GetGrain<IIndexShardGrain>(key).ChunkCounts()).GetValueOrDefault(first.Id);
        Assert.Equal(0, total);
        var afterDelete = await client.GetGrain<IQueryPlanGrain>("sci").Search(new SearchRequest(questions[0].Query, 5, null, null));
        Assert.False(afterDelete.Cached);
        Assert.DoesNotContain(afterDelete.Hits, h => h.DocumentId == first.Id);
    }

    [Fact]
    public async Task A_shard_restored_after_a_crash_from_snapshot_plus_log_answers_exactly_as_before()
    {
        var serviceId = "restore-" + Guid.NewGuid().ToString("N")[..6];
        await using var cluster = await NewCluster(serviceId: serviceId);
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>("kb/0");
        var rng = new Random(3);
        float[] Vec() => Enumerable.Range(0, 16).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        // 100 documents: 64 changes fold into a snapshot, the other 36 (and a delete and a replace) stay in the log.
        for (var d = 0; d < 100; d++)
            await shard.Upsert($"doc{d}", 1, Enumerable.Range(0, 3).Select(c => new ChunkRecord($"doc{d}#{c}", $"doc{d}", c, c * 10, c * 10 + 9,
                $"document {d} chunk {c} word{d % 7}", [], new() { ["parity"] = (d % 2).ToString() }, Vec())).ToArray());
        await shard.RemoveDocument("doc5", 2);
        await shard.Upsert("doc6", 2, [new ChunkRecord("doc6#0", "doc6", 0, 0, 5, "replaced text", [], [], Vec())]);
        var stats = await shard.GetStats();
        Assert.InRange(stats.LogEntries, 1, 63);
        var queries = Enumerable.Range(0, 10).Select(i => new ShardQuery(Vec(), $"word{i % 7} chunk", 10, 64, FilterParser.ParseCanonical(i % 3 == 0 ? """{"parity":"1"}""" : null))).ToList();
        var before = new List<ShardResult>();
        foreach (var q in queries) before.Add(await shard.Search(q));
        var countsBefore = await shard.ChunkCounts();

        // A crash: the silo vanishes without deactivating (the snapshot is not refreshed); a new silo opens the same store.
        await cluster.KillAsync(cluster.Cluster.Primary!);
        await using var second = await NewCluster(storage: cluster.Storage, serviceId: serviceId);
        var restored = second.Grains.GetGrain<IIndexShardGrain>("kb/0");
        Assert.Equal(countsBefore, await restored.ChunkCounts());
        Assert.DoesNotContain("doc5", (await restored.ChunkCounts()).Keys);
        Assert.Equal(1, (await restored.ChunkCounts())["doc6"]);
        for (var i = 0; i < queries.Count; i++)
        {
            var after = await restored.Search(queries[i]);
            Assert.Equal(before[i].Dense.Select(h => h.ChunkId), after.Dense.Select(h => h.ChunkId));
            Assert.Equal(before[i].Lexical.Select(h => h.ChunkId), after.Lexical.Select(h => h.ChunkId));
        }
        // Stale versions arriving late (a retry of an old ingest) change nothing.
        await restored.Upsert("doc6", 1, [new ChunkRecord("doc6#9", "doc6", 9, 0, 1, "stale", [], [], Vec())]);
        await restored.Upsert("doc5", 1, [new ChunkRecord("doc5#9", "doc5", 9, 0, 1, "stale", [], [], Vec())]);
        Assert.Equal(countsBefore, await restored.ChunkCounts());
    }

    [Fact]
    public async Task Concurrent_versions_of_one_document_end_with_the_last_write_indexed_once()
    {
        // PostgreSQL: Npgsql writes really await (SQLite's complete synchronously), so the reentrant turns interleave.
        await using var cluster = await NewCluster(storage: await postgres.NewDatabaseAsync());
        var grains = cluster.Grains;
        var doc = grains.GetGrain<IDocumentGrain>("kb/racy");
        // 20 different versions at once: every call must succeed (no ETag race inside the activation).
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            doc.Ingest(new IngestRequest("txt", System.Text.Encoding.UTF8.GetBytes($"version {i} of the racy document"), [], null))));
        Assert.All(results, r => Assert.InRange(r.Version, 1, 20));
        DocumentStatus status;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((status = await doc.GetStatus()).Status == DocumentStatuses.Pending && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(DocumentStatuses.Indexed, status.Status);
        Assert.Equal(20, status.Version);
        var chunks = 0;
        foreach (var key in await grains.ShardKeysAsync("kb")) chunks += (await grains.GetGrain<IIndexShardGrain>(key).ChunkCounts()).GetValueOrDefault("racy");
        Assert.Equal(status.ChunkCount, chunks);
        var hits = await grains.GetGrain<IQueryPlanGrain>("kb").Search(new SearchRequest("racy document", 5, null, "bm25"));
        Assert.Single(hits.Hits);
    }

    [Fact]
    public async Task A_pass_writes_only_to_shards_it_gives_chunks_or_that_held_older_ones()
    {
        await using var cluster = await NewCluster();
        var grains = cluster.Grains;
        async Task<DocumentStatus> Index(string id, string text)
        {
            var doc = grains.GetGrain<IDocumentGrain>($"held/{id}");
            await doc.Ingest(new IngestRequest("txt", System.Text.Encoding.UTF8.GetBytes(text), [], null));
            DocumentStatus status;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while ((status = await doc.GetStatus()).Status == DocumentStatuses.Pending && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.Equal(DocumentStatuses.Indexed, status.Status);
            return status;
        }
        async Task<int[]> Chunks(string id) =>
            await Task.WhenAll((await grains.ShardKeysAsync("held")).Select(async key => (await grains.GetGrain<IIndexShardGrain>(key).ChunkCounts()).GetValueOrDefault(id)));
        async Task<int[]> LogEntries() => await Task.WhenAll((await grains.ShardKeysAsync("held")).Select(async key => (await grains.GetGrain<IIndexShardGrain>(key).GetStats()).LogEntries));

        var longText = string.Join("\n\n", Enumerable.Range(0, 150).Select(p => $"Paragraph {p} is about shard placement, chunk versions and the words {p * 7} and {p * 13}."));
        var big = await Index("big", longText);
        Assert.All(await Chunks("big"), n => Assert.True(n > 0)); // chunks in all four shards
        Assert.Equal(big.ChunkCount, (await Chunks("big")).Sum());

        // A new one-chunk document adds a log entry to one shard only (it used to write an empty one to the other three).
        var before = await LogEntries();
        var small = await Index("small", "one short chunk");
        var after = await LogEntries();
        Assert.Equal(1, small.ChunkCount);
        Assert.Equal(1, Enumerable.Range(0, 4).Count(i => after[i] != before[i]));
        Assert.Equal(1, after.Zip(before, (a, b) => a - b).Sum());

        // The big document shrinks to one chunk: the three shards that held its older chunks are told, and drop them.
        await Index("big", "now only a short text");
        Assert.Equal(1, (await Chunks("big")).Sum());
        // And grows again: nothing doubled.
        var grown = await Index("big", longText + "\n\nA last paragraph.");
        Assert.Equal(grown.ChunkCount, (await Chunks("big")).Sum());
        Assert.True(grown.ChunkCount > 4);
    }

    /// <summary>
    /// 48 shards on 3 silos (16 each); a 4th joins while queries run. Every shard moves to its home among the four, which
    /// leaves 12 on each: a quarter move onto the new silo, a few more between the others (bounded loads trade them for the
    /// evenness), no query fails, and answers are the same afterwards.
    /// </summary>
    [Fact]
    public async Task When_a_silo_joins_under_query_load_the_shards_even_out_onto_it_and_no_query_fails()
    {
        const int shards = 48;
        var settings = Settings();
        settings["Silo:HomeCheckPeriod"] = "00:00:01";
        await using var cluster = await RagTestCluster.StartAsync(3, settings: settings);
        var grains = cluster.Grains;
        await grains.GetGrain<ICollectionGrain>("spread").Create(new CollectionSettings(shards, 256, 32));
        for (var d = 0; d < 24; d++)
            await grains.GetGrain<IDocumentGrain>($"spread/d{d}").Ingest(new IngestRequest("txt", System.Text.Encoding.UTF8.GetBytes($"shard spreading document {d} about silo {d % 5}"), [], null));
        foreach (var d in Enumerable.Range(0, 24))
            while ((await grains.GetGrain<IDocumentGrain>($"spread/d{d}").GetStatus()).Status == DocumentStatuses.Pending) await Task.Delay(50);
        var plans = grains.GetGrain<IQueryPlanGrain>("spread");
        var before = await plans.Search(new SearchRequest("document about silo 3", 10, null, "bm25"));

        var keys = await grains.ShardKeysAsync("spread");
        async Task<string[]> Where() => (await Task.WhenAll(keys.Select(key => grains.GetGrain<IIndexShardGrain>(key).GetStats()))).Select(s => s.Silo!).ToArray();
        string Home(int shard, IEnumerable<SiloAddress> silos) => Rendezvous.Home(GrainId.Create("indexshard", keys[shard]), silos.ToArray()).ToString();
        var three = cluster.Cluster.Silos.Select(s => s.SiloAddress).ToList();
        var placed = await Where();
        Assert.All(Enumerable.Range(0, shards), i => Assert.Equal(Home(i, three), placed[i])); // placement put each shard on its home
        Assert.All(three, s => Assert.Equal(shards / 3, placed.Count(w => w == s.ToString()))); // 16 on each

        var failures = 0;
        var queries = 0;
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                try
                {
                    // A new text each time: a cached answer would not reach the shards.
                    await plans.Search(new SearchRequest($"document about silo {w} query {n}", 5, null, "bm25"));
                    Interlocked.Increment(ref queries);
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref failures);
                    output.WriteLine($"query failed: {e.GetType().Name}: {e.Message}");
                }
            }
        })).ToArray();
        await Task.Delay(500);
        var added = await cluster.StartSiloAsync();
        var four = three.Append(added.SiloAddress).ToList();
        var expected = Enumerable.Range(0, shards).Select(i => Home(i, four)).ToArray();
        var clock = Stopwatch.StartNew();
        string[] now;
        while (!(now = await Where()).SequenceEqual(expected) && clock.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(250);
        var settled = clock.Elapsed;
        await Task.Delay(500);
        stop.Cancel();
        await Task.WhenAll(load);

        var moved = Enumerable.Range(0, shards).Count(i => now[i] != placed[i]);
        output.WriteLine($"{moved} of {shards} shards moved ({now.Count(w => w == added.SiloAddress.ToString())} onto the new silo) in {settled.TotalSeconds:F1} s; {queries} queries meanwhile, {failures} failed; " +
            $"per silo: {string.Join(", ", four.Select(s => now.Count(w => w == s.ToString())))}");
        Assert.Equal(expected, now);
        Assert.All(four, s => Assert.Equal(shards / 4, now.Count(w => w == s.ToString()))); // even: 12 on each
        Assert.Equal(shards / 4, Enumerable.Range(0, shards).Count(i => now[i] != placed[i] && now[i] == added.SiloAddress.ToString()));
        Assert.InRange(moved, shards / 4, shards / 2);
        Assert.Equal(0, failures);
        Assert.True(queries > 20, $"only {queries} queries ran");
        var after = await plans.Search(new SearchRequest("document about silo 3", 10, null, "bm25"));
        Assert.Equal(before.Hits.Select(h => (h.DocumentId, h.ChunkId)), after.Hits.Select(h => (h.DocumentId, h.ChunkId)));
    }

    [Fact]
    public async Task One_query_is_one_trace_across_silos()
    {
        await using var cluster = await NewCluster(silos: 3);
        var client = cluster.Grains;
        for (var d = 0; d < 8; d++)
            await client.GetGrain<IDocumentGrain>($"tr/d{d}").Ingest(new IngestRequest("txt", System.Text.Encoding.UTF8.GetBytes($"traced document number {d} about shards"), [], null));
        foreach (var d in Enumerable.Range(0, 8))
            while ((await client.GetGrain<IDocumentGrain>($"tr/d{d}").GetStatus()).Status == DocumentStatuses.Pending) await Task.Delay(50);

        var spans = new System.Collections.Concurrent.ConcurrentBag<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = s => RagTracing.IsOrleansSource(s.Name) || s.Name == "test",
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        using var testSource = new System.Diagnostics.ActivitySource("test");
        System.Diagnostics.ActivityTraceId traceId;
        using (var root = testSource.StartActivity("query"))
        {
            traceId = root!.TraceId;
            await client.GetGrain<IQueryPlanGrain>("tr").Search(new SearchRequest("traced shards", 5, null, "bm25"));
        }
        var mine = spans.Where(s => s.TraceId == traceId).ToList();
        static string? Service(System.Diagnostics.Activity a) => RagTracing.ServiceOf(a);
        var servers = mine.Where(s => s.Kind == System.Diagnostics.ActivityKind.Server).ToList();
        // The plan grain, the collection grain and all 4 shards ran inside the one trace, each shard asked twice: for
        // BM25 while the query was embedded, then with its vector...
        Assert.Contains(servers, s => Service(s) == "IQueryPlanGrain");
        var shardSearches = servers.Where(s => Service(s) == "IIndexShardGrain" && RagTracing.MethodOf(s) == "Search").ToList();
        Assert.Equal(8, shardSearches.Count);
        Assert.All(shardSearches.GroupBy(RagTracing.GrainKeyOf), g => Assert.Equal(2, g.Count()));
        Assert.Equal(4, shardSearches.Select(RagTracing.GrainKeyOf).Distinct().Count());
        // ...on more than one silo, and every server span hangs under a client span of the same trace.
        Assert.True(servers.Select(s => (string?)s.GetTagItem(RagTracing.SiloTag)).Distinct().Count() >= 2);
        var clientIds = mine.Where(s => s.Kind == System.Diagnostics.ActivityKind.Client).Select(s => s.SpanId).ToHashSet();
        Assert.All(servers, s => Assert.Contains(s.ParentSpanId, clientIds));
    }

    [Fact]
    public async Task Cache_entries_move_from_L2_memory_to_L3_storage_and_survive_the_silo()
    {
        var serviceId = "cache-" + Guid.NewGuid().ToString("N")[..6];
        await using var cluster = await NewCluster(serviceId: serviceId);
        var first = cluster.Grains;
        var key = "kb\u00011\u0001auto\u00015\u0001\u0001some query";
        var partition = RagCluster.Grains.Caching.CacheGrain.PartitionOf(key);
        var value = new SearchResponse("bm25", [new SearchHit("d", "d#0", 0, 0, 4, "text", [], 1.5)], false, 3.0, ["bm25"], null);
        Assert.False((await first.GetGrain<ICacheGrain>(partition).Get(key)).Found);
        await first.GetGrain<ICacheGrain>(partition).Set(key, value);
        var l2 = await first.GetGrain<ICacheGrain>(partition).Get(key);
        Assert.Equal("L2", l2.Tier);
        await cluster.StopAsync(cluster.Cluster.Primary!); // graceful: the partition flushes to the store on deactivation

        await using var restarted = await NewCluster(storage: cluster.Storage, serviceId: serviceId);
        var second = restarted.Grains;
        var l3 = await second.GetGrain<ICacheGrain>(partition).Get(key);
        Assert.True(l3.Found);
        Assert.Equal("L3", l3.Tier);
        Assert.Equal("d#0", l3.Value!.Hits[0].ChunkId);
        Assert.Equal("L2", (await second.GetGrain<ICacheGrain>(partition).Get(key)).Tier);
        var stats = await second.GetGrain<ICacheGrain>(partition).GetStats();
        Assert.Equal((1L, 1L), (stats.L2Hits, stats.L3Hits));
    }

    [Fact]
    public async Task A_cache_flush_writes_the_entries_that_changed_not_the_whole_partition()
    {
        await using var cluster = await NewCluster();
        var partition = RagCluster.Grains.Caching.CacheGrain.PartitionOf("k0");
        var keys = Enumerable.Range(0, 5000).Select(i => $"k{i}").Where(k => RagCluster.Grains.Caching.CacheGrain.PartitionOf(k) == partition).Take(101).ToList();
        var cache = cluster.Grains.GetGrain<ICacheGrain>(partition);
        var value = new SearchResponse("bm25", [new SearchHit("d", "d#0", 0, 0, 4, "text", [], 1.5)], false, 3.0, ["bm25"], null);
        foreach (var key in keys.Take(100)) await cache.Set(key, value);
        await Poll.UntilAsync(async () => (await cache.GetStats()).RowsWritten == 100); // the timer's flush, within 5 s
        await cache.Set(keys[100], value);
        await Poll.UntilAsync(async () => (await cache.GetStats()).RowsWritten > 100);
        Assert.Equal(101, (await cache.GetStats()).RowsWritten); // one row for one new entry, not 101
    }

    [Fact]
    public async Task A_cache_partition_keeps_within_its_bytes_in_memory_and_in_store_and_a_smaller_bound_shrinks_what_was_stored()
    {
        var serviceId = "cachebytes-" + Guid.NewGuid().ToString("N")[..6];
        var settings = Settings();
        settings["Cache:PartitionBytes"] = "400000";
        await using var cluster = await RagTestCluster.StartAsync(1, null, settings, serviceId);
        var partition = RagCluster.Grains.Caching.CacheGrain.PartitionOf("k0");
        var keys = Enumerable.Range(0, 5000).Select(i => $"k{i}").Where(k => RagCluster.Grains.Caching.CacheGrain.PartitionOf(k) == partition).Take(30).ToList();
        var cache = cluster.Grains.GetGrain<ICacheGrain>(partition);
        // Ten hits of 5,000 characters: about 100 KB an answer (CachedBytes), so 3 fit in 400,000 bytes.
        var value = new SearchResponse("bm25", [.. Enumerable.Range(0, 10).Select(i => new SearchHit("d", $"d#{i}", i, 0, 4, new string('x', 5000), [], 1.5))], false, 3.0, ["bm25"], null);
        foreach (var key in keys) await cache.Set(key, value);
        Assert.Equal(3, (await cache.GetStats()).Entries);
        foreach (var key in keys[..^3]) Assert.False((await cache.Get(key)).Found);
        foreach (var key in keys[^3..]) Assert.True((await cache.Get(key)).Found); // the newest stay
        await cluster.StopAsync(cluster.Cluster.Primary!); // the partition flushes: 3 rows stored

        settings["Cache:PartitionBytes"] = "250000"; // now 2 fit: the third stored row goes at activation
        await using (var smaller = await RagTestCluster.StartAsync(1, cluster.Storage, settings, serviceId))
        {
            var reopened = smaller.Grains.GetGrain<ICacheGrain>(partition);
            Assert.Equal(2, (await reopened.GetStats()).Entries);
            await Poll.UntilAsync(async () => (await reopened.GetStats()).RowsWritten == 1); // its row deleted by the next flush
            await smaller.StopAsync(smaller.Cluster.Primary!);
        }
        settings["Cache:PartitionBytes"] = "400000";
        await using var again = await RagTestCluster.StartAsync(1, cluster.Storage, settings, serviceId);
        Assert.Equal(2, (await again.Grains.GetGrain<ICacheGrain>(partition).GetStats()).Entries); // the store held 2
    }

    private static async Task<T> Retry<T>(Func<Task<T>> call)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException && attempt < 20)
            {
                await Task.Delay(250);
            }
        }
    }
}
