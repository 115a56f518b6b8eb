using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Orleans.Storage;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Security;
using RagCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Acknowledged means stored, and every multi-step change can be finished: on two silos over PostgreSQL whose writes are
/// made to fail for real (a trigger raises, so the silos get the driver's PostgresException).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DurabilityTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private static IngestRequest Text(string text) => new("txt", Encoding.UTF8.GetBytes(text), [], null);

    /// <summary>The document's status once it is <paramref name="status"/>, or its last status after 15 s (for the assertion to show).</summary>
    private static async Task<DocumentStatus> Reaches(IDocumentGrain doc, string status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var s = await doc.GetStatus();
            if (s.Status == status || DateTime.UtcNow > deadline) return s;
            await Task.Delay(50);
        }
    }

    private static async Task<DocumentStatus> Settled(IDocumentGrain doc)
    {
        for (var i = 0; i < 300; i++)
        {
            var s = await doc.GetStatus();
            if (s.Status != DocumentStatuses.Pending) return s;
            await Task.Delay(50);
        }
        throw new TimeoutException("still pending after 15 s");
    }

    private static async Task<int> ChunksInShards(RagTestCluster cluster, string collection, string documentId)
    {
        var counts = await Task.WhenAll((await cluster.Grains.ShardKeysAsync(collection)).Select(key => cluster.Grains.GetGrain<IIndexShardGrain>(key).ChunkCounts()));
        return counts.Sum(c => c.GetValueOrDefault(documentId));
    }

    private async Task<(RagTestCluster Cluster, InjectedWriteFailures Faults)> StartAsync()
    {
        var dsn = await postgres.NewDatabaseAsync();
        var cluster = await RagTestCluster.StartAsync(2, dsn, new() { ["Collections:ShardCount"] = "2" });
        return (cluster, await InjectedWriteFailures.InstallAsync(dsn));
    }

    [Fact]
    public async Task A_document_whose_write_failed_is_not_acknowledged_and_its_resend_is_stored_and_indexed()
    {
        var (cluster, faults) = await StartAsync();
        await using var _ = cluster;
        var doc = cluster.Grains.GetGrain<IDocumentGrain>("acks/d1");
        await cluster.Grains.GetGrain<ICollectionGrain>("acks").Create(new CollectionSettings(2, 256, 32));

        // A new document: the write fails, the caller hears it as ours (not a codec error for Npgsql's type), nothing is kept.
        await faults.FailStateWrites("acks/d1");
        var refused = await Assert.ThrowsAsync<StorageUnavailableException>(() => doc.Ingest(Text("first version of the text")));
        output.WriteLine(refused.Message);
        Assert.Equal("unknown", (await doc.GetStatus()).Status);
        // The resend, while the store still refuses: refused again, not answered "pending" from memory.
        await Assert.ThrowsAsync<StorageUnavailableException>(() => doc.Ingest(Text("first version of the text")));
        Assert.Equal("unknown", (await doc.GetStatus()).Status);

        await faults.HealAll();
        var accepted = await doc.Ingest(Text("first version of the text"));
        Assert.Equal((DocumentStatuses.Pending, 1L), (accepted.Status, accepted.Version));
        var indexed = await Settled(doc);
        Assert.Equal(DocumentStatuses.Indexed, indexed.Status);
        Assert.Equal(indexed.ChunkCount, await ChunksInShards(cluster, "acks", "d1"));

        // New content for an indexed document: the failed write leaves the indexed version as it was, and the resend replaces it.
        await faults.FailStateWrites("acks/d1");
        await Assert.ThrowsAsync<StorageUnavailableException>(() => doc.Ingest(Text("second version, longer than the first one")));
        var after = await doc.GetStatus();
        Assert.Equal((DocumentStatuses.Indexed, 1L, indexed.ContentHash), (after.Status, after.Version, after.ContentHash));
        await faults.HealAll();
        Assert.Equal(2L, (await doc.Ingest(Text("second version, longer than the first one"))).Version);
        Assert.Equal((DocumentStatuses.Indexed, 2L), ((await Settled(doc)).Status, (await doc.GetStatus()).Version));
    }

    [Fact]
    public async Task A_document_delete_that_failed_part_way_is_finished_by_repeating_it()
    {
        var (cluster, faults) = await StartAsync();
        await using var _ = cluster;
        await cluster.Grains.GetGrain<ICollectionGrain>("dels").Create(new CollectionSettings(2, 256, 32));
        var doc = cluster.Grains.GetGrain<IDocumentGrain>("dels/d1");
        await doc.Ingest(Text(string.Join(' ', Enumerable.Range(0, 600).Select(i => $"word{i}")))); // several chunks, both shards
        var indexed = await Settled(doc);
        Assert.Equal(indexed.ChunkCount, await ChunksInShards(cluster, "dels", "d1"));

        // Deleted is stored, then the shards refuse the removal: the call fails, the chunks are still there.
        await faults.FailLogAppends("%dels/%");
        await Assert.ThrowsAnyAsync<Exception>(() => doc.Delete());
        Assert.Equal(DocumentStatuses.Deleted, (await doc.GetStatus()).Status);
        Assert.True(await ChunksInShards(cluster, "dels", "d1") > 0);
        Assert.Contains("d1", (await cluster.Grains.GetGrain<ICollectionGrain>("dels").ListDocuments(null, 100)).DocumentIds);

        // Repeating the delete finishes it (before: "already deleted", and the chunks stayed searchable for good).
        await faults.HealAll();
        Assert.True(await doc.Delete());
        Assert.Equal(0, await ChunksInShards(cluster, "dels", "d1"));
        Assert.DoesNotContain("d1", (await cluster.Grains.GetGrain<ICollectionGrain>("dels").ListDocuments(null, 100)).DocumentIds);
        Assert.False(await doc.Delete()); // nothing left to delete
    }

    [Fact]
    public async Task A_collection_delete_that_failed_part_way_is_finished_by_repeating_it_and_takes_no_documents_meanwhile()
    {
        var (cluster, faults) = await StartAsync();
        await using var _ = cluster;
        var key = TenantScope.CollectionKey("t", "drops");
        var collection = cluster.Grains.GetGrain<ICollectionRegistryGrain>(key);
        var layout = (await collection.Create(new CollectionSettings(2, 256, 32))).Layout.Generation;
        await cluster.Grains.GetGrain<ITenantGrain>("t").AddCollection("drops");
        foreach (var id in new[] { "a", "b", "c" }) await cluster.Grains.GetGrain<IDocumentGrain>($"{key}/{id}").Ingest(Text($"document {id} text"));
        foreach (var id in new[] { "a", "b", "c" }) Assert.Equal(DocumentStatuses.Indexed, (await Settled(cluster.Grains.GetGrain<IDocumentGrain>($"{key}/{id}"))).Status);

        // Every document goes, then the collection's own write fails.
        await collection.BeginDelete();
        foreach (var id in new[] { "a", "b", "c" }) await cluster.Grains.GetGrain<IDocumentGrain>($"{key}/{id}").Delete();
        await faults.FailRowWrites($"%/{key}");
        await Assert.ThrowsAsync<StorageUnavailableException>(() => collection.Drop());
        Assert.True(await collection.Exists());
        Assert.True(await collection.IsDeleting());
        // Half-deleted, it takes no registrations: a document cannot bring it back with default settings.
        await faults.HealAll();
        await Assert.ThrowsAsync<CollectionGoneException>(() => collection.DocumentChanged("late", present: true, [layout]));

        await cluster.Grains.GetGrain<ICollectionDeletionGrain>(key).Delete(); // the repeat
        Assert.Empty(await cluster.Grains.GetGrain<ITenantGrain>("t").Collections());
        Assert.False(await collection.Exists());
        await Assert.ThrowsAsync<CollectionGoneException>(() => collection.DocumentChanged("later", present: true, [layout]));
        Assert.False(await collection.Exists()); // still gone: the refused registration pinned nothing
        Assert.Equal(0, (await collection.GetInfo()).DocumentCount);
        // The name is free again.
        await collection.Create(new CollectionSettings(3, 256, 32));
        Assert.Equal(3, (await collection.GetSettings()).ShardCount);
    }

    [Fact]
    public async Task A_delete_racing_a_new_version_never_leaves_an_indexed_document_without_its_chunks()
    {
        var (cluster, _) = await StartAsync();
        await using var __ = cluster;
        await cluster.Grains.GetGrain<ICollectionGrain>("race").Create(new CollectionSettings(2, 256, 32));
        for (var round = 0; round < 12; round++)
        {
            var doc = cluster.Grains.GetGrain<IDocumentGrain>($"race/d{round}");
            await doc.Ingest(Text($"round {round} first"));
            await Settled(doc);
            // The delete and a new version arrive together; whichever the document takes last, it must be consistent.
            await Task.WhenAll(doc.Delete(), doc.Ingest(Text($"round {round} second, with other words")));
            var end = await Settled(doc);
            var chunks = await ChunksInShards(cluster, "race", $"d{round}");
            output.WriteLine($"round {round}: {end.Status} v{end.Version}, {end.ChunkCount} chunks recorded, {chunks} in shards");
            if (end.Status == DocumentStatuses.Indexed) Assert.Equal(end.ChunkCount, chunks);
            else Assert.Equal((DocumentStatuses.Deleted, 0), (end.Status, chunks));
        }
    }

    [Fact]
    public async Task Documents_indexing_while_their_collection_is_deleted_go_with_it()
    {
        var (cluster, _) = await StartAsync();
        await using var __ = cluster;
        var key = TenantScope.CollectionKey("t", "gone");
        var collection = cluster.Grains.GetGrain<ICollectionGrain>(key);
        await collection.Create(new CollectionSettings(2, 256, 32));
        await cluster.Grains.GetGrain<ITenantGrain>("t").AddCollection("gone");
        var ids = Enumerable.Range(0, 40).Select(i => $"d{i}").ToArray();
        await Task.WhenAll(ids.Select(id => cluster.Grains.GetGrain<IDocumentGrain>($"{key}/{id}").Ingest(Text($"text of {id} " + string.Join(' ', Enumerable.Range(0, 50).Select(w => $"w{w}"))))));
        // Deleted at once, with most documents still indexing; repeated until it goes through, as a client would.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await cluster.Grains.GetGrain<ICollectionDeletionGrain>(key).Delete();
                break;
            }
            catch (InvalidOperationException e) when (attempt < 50)
            {
                output.WriteLine($"delete attempt {attempt}: {e.Message}");
                await Task.Delay(200);
            }
        }
        Assert.False(await collection.Exists());
        // A document still pending from the dropped collection reads as unknown (it belongs to no collection now) until
        // its pass finds the collection gone and deletes it; each must end deleted.
        var statuses = await Task.WhenAll(ids.Select(id => Reaches(cluster.Grains.GetGrain<IDocumentGrain>($"{key}/{id}"), DocumentStatuses.Deleted)));
        Assert.All(statuses, s => Assert.Equal(DocumentStatuses.Deleted, s.Status));
        for (var i = 0; i < 100 && (await Task.WhenAll(ids.Select(id => ChunksInShards(cluster, key, id)))).Sum() > 0; i++) await Task.Delay(100);
        Assert.Equal(0, (await Task.WhenAll(ids.Select(id => ChunksInShards(cluster, key, id)))).Sum());
        Assert.False(await collection.Exists());
    }
}

/// <summary>Over HTTP on the embedded default (SQLite refusing writes through a trigger): 503 with Retry-After, never a 500.</summary>
public sealed class DurabilityApiTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    [Fact]
    public async Task A_refused_write_is_a_503_with_retry_after_alone_and_per_document_in_a_batch_and_the_resend_is_stored()
    {
        var faults = await InjectedWriteFailures.InstallAsync($"sqlite:{api.StoreFile}");
        await api.CreateCollection("durable");
        await faults.FailStateWrites("%durable/bad%");
        try
        {
            var single = await api.Http.PostAsJsonAsync("v1/collections/durable/documents", new { id = "bad1", text = "refused by the store" });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, single.StatusCode);
            Assert.Equal("application/problem+json", single.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(single.Headers.RetryAfter);
            Assert.DoesNotContain("Npgsql", await single.Content.ReadAsStringAsync());

            // bad2 is past Ingest:BulkTextMaxKilobytes, so it has a grain (and a state write) of its own; the small ones
            // are accepted in the collection's registry (the bulk text path).
            var large = string.Join(' ', Enumerable.Repeat("refused", 10_000));
            var batch = await api.Http.PostAsJsonAsync("v1/collections/durable/documents", new
            {
                documents = new[] { new { id = "good1", text = "stored" }, new { id = "bad2", text = large }, new { id = "good2", text = "stored too" } },
            });
            Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
            Assert.NotNull(batch.Headers.RetryAfter);
            var body = await batch.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal((2, 1), (body.GetProperty("accepted").GetInt32(), body.GetProperty("rejected").GetInt32()));
            var refused = body.GetProperty("documents")[1];
            Assert.Equal("rejected", refused.GetProperty("status").GetString());
            Assert.Equal(503, refused.GetProperty("error").GetProperty("status").GetInt32());
            Assert.Equal(1, refused.GetProperty("error").GetProperty("retryAfter").GetInt32());
            Assert.Equal("pending", body.GetProperty("documents")[0].GetProperty("status").GetString());

            // Not acknowledged, so not there.
            Assert.Equal(HttpStatusCode.NotFound, (await api.Http.GetAsync("v1/collections/durable/documents/bad2")).StatusCode);
        }
        finally
        {
            await faults.HealAll();
        }
        Assert.Equal(1, (await api.Client.IngestBatchAsync("durable", [new("bad2") { Text = "refused" }])).Accepted);
        Assert.Equal("indexed", (await api.Client.SettledAsync("durable", ["bad2"], seconds: 10))["bad2"].Status);
    }

    [Fact]
    public async Task A_batch_of_texts_the_registry_refuses_is_a_503_per_document_and_nothing_of_it_is_kept()
    {
        var faults = await InjectedWriteFailures.InstallAsync($"sqlite:{api.StoreFile}");
        await api.CreateCollection("durable-registry");
        await faults.FailRowWrites("%durable-registry%");
        try
        {
            var batch = await api.Http.PostAsJsonAsync("v1/collections/durable-registry/documents", new
            {
                documents = new[] { new { id = "r1", text = "accepted in the registry or not at all" }, new { id = "r2", text = "the same" } },
            });
            Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
            Assert.NotNull(batch.Headers.RetryAfter);
            var body = await batch.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal((0, 2), (body.GetProperty("accepted").GetInt32(), body.GetProperty("rejected").GetInt32()));
            Assert.All(body.GetProperty("documents").EnumerateArray(), d => Assert.Equal(503, d.GetProperty("error").GetProperty("status").GetInt32()));
        }
        finally
        {
            await faults.HealAll();
        }
        Assert.Equal(HttpStatusCode.NotFound, (await api.Http.GetAsync("v1/collections/durable-registry/documents/r1")).StatusCode);
        Assert.Equal(2, (await api.Client.IngestBatchAsync("durable-registry", [new("r1") { Text = "again" }, new("r2") { Text = "again too" }])).Accepted);
        Assert.All((await api.Client.SettledAsync("durable-registry", ["r1", "r2"], seconds: 20)).Values, s => Assert.Equal("indexed", s.Status));
    }

    [Fact]
    public async Task Texts_accepted_in_bulk_while_their_shards_refuse_writes_stay_pending_and_are_indexed_once_the_store_heals()
    {
        var faults = await InjectedWriteFailures.InstallAsync($"sqlite:{api.StoreFile}");
        await api.CreateCollection("durable-shards");
        await faults.FailLogAppends("%durable-shards%");
        try
        {
            var accepted = await api.Client.IngestBatchAsync("durable-shards", [new("s1") { Text = "the shard refuses this for now" }, new("s2") { Text = "and this" }]);
            Assert.Equal(2, accepted.Accepted); // the acceptance is the registry's write, which succeeded
            // The indexer tries again (1 s, then doubling); until the shards take the chunks the documents read pending.
            await Poll.UntilAsync(async () => (await api.Http.GetFromJsonAsync<JsonElement>("v1/collections/durable-shards/documents/s1"))
                .GetProperty("status").GetString() == "pending", seconds: 5);
        }
        finally
        {
            await faults.HealAll();
        }
        Assert.All((await api.Client.SettledAsync("durable-shards", ["s1", "s2"], seconds: 60)).Values, s => Assert.Equal("indexed", s.Status));
    }
}
