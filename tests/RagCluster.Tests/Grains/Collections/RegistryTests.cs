using RagCluster.Grains.Interfaces.Errors;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;
using RagCluster.Grains.Collections;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Storage;
using RagCluster.Storage.GrainRows;
using RagCluster.Storage.Schema;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// A collection's registry as rows: one change writes a few small rows, listing is paged, counts follow the rows, a
/// stale owner writes nothing, and a collection stored whole by an older version moves into rows on activation.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RegistryTests(PostgresFixture postgres)
{
    private static byte[] B(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    private async Task<IGrainRowStore> StoreAsync(string kind)
    {
        if (kind == "memory") return new InMemoryGrainRowStore();
        var location = StoreLocation.Parse(kind == "sqlite"
            ? $"sqlite:{Path.Combine(Directory.CreateTempSubdirectory("rc-rows").FullName, "rows.db")}"
            : await postgres.NewDatabaseAsync());
        await DatabaseSchema.ApplyAsync(location);
        return new SqlGrainRowStore(location, "rows-test");
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Row_sets_count_page_delete_conditionally_and_fence_a_stale_owner(string kind)
    {
        var store = await StoreAsync(kind);
        const string g = "collection/t.kb", n = "registry";
        var first = await store.ClaimAsync(g, n);
        Assert.Null(await store.ReadHeadAsync(g, n));
        var puts = Enumerable.Range(0, 600).Select(i => new RowChange("documents", $"d{i:D4}", [])).ToList();
        var gained = await store.WriteAsync(g, n, first, B("h1"), [.. puts, new RowChange("unsettled", "d0001", B("t1")), new RowChange("unsettled", "d0002", B("t1"))]);
        Assert.Equal(600, gained["documents"]);
        Assert.Equal(2, gained["unsettled"]);
        Assert.Equal(B("h1"), await store.ReadHeadAsync(g, n));

        // Pages in key order, each starting after the last key of the one before.
        var seen = new List<string>();
        for (string? after = null; ;)
        {
            var page = await store.PageAsync(g, n, "documents", after, 250);
            seen.AddRange(page.Select(r => r.Key));
            if (page.Count < 250) break;
            after = page[^1].Key;
        }
        Assert.Equal(puts.Select(p => p.Key), seen);

        // A put of a present key gains nothing; a delete of an absent one loses nothing; a conditional delete only
        // removes a row still holding the value it names.
        gained = await store.WriteAsync(g, n, first, B("h2"), [
            new RowChange("documents", "d0000", []), new RowChange("documents", "d0001", null), new RowChange("documents", "absent", null),
            new RowChange("unsettled", "d0001", null, OnlyIf: B("t1")), new RowChange("unsettled", "d0002", null, OnlyIf: B("t0"))]);
        Assert.Equal(-1, gained["documents"]);
        Assert.Equal(-1, gained["unsettled"]);
        var counts = await store.CountAsync(g, n);
        Assert.Equal((599L, 1L), (counts["documents"], counts["unsettled"]));
        Assert.Equal(["d0002"], (await store.PageAsync(g, n, "unsettled", null, 10)).Select(r => r.Key));

        // A newer owner claims: the old one's write is refused whole.
        var second = await store.ClaimAsync(g, n);
        await Assert.ThrowsAsync<InconsistentStateException>(() => store.WriteAsync(g, n, first, B("stale"), [new RowChange("documents", "zzz", [])]));
        Assert.Equal(B("h2"), await store.ReadHeadAsync(g, n));
        Assert.Equal(599L, (await store.CountAsync(g, n))["documents"]);
        await store.WriteAsync(g, n, second, B("h3"), [new RowChange("documents", "zzz", [])]);
        Assert.Equal(600L, (await store.CountAsync(g, n))["documents"]);
        Assert.Empty(await store.CountAsync("collection/t.other", n));
    }

    [Fact]
    public async Task A_collection_lists_its_documents_a_page_at_a_time_and_keeps_its_counts_across_activations()
    {
        await using var cluster = await RagTestCluster.StartAsync(1);
        var collection = cluster.Grains.GetGrain<ICollectionRegistryGrain>("t.big");
        var layout = (await collection.Create(new CollectionSettings(2, 256, 32))).Layout.Generation;
        var ids = Enumerable.Range(0, 2500).Select(i => $"doc-{i:D5}").ToArray();
        foreach (var batch in ids.Chunk(500)) await collection.DocumentsAdded(batch, layout);
        await collection.DocumentChanged("doc-00007", present: false, [layout]);
        await collection.DocumentsAccepted(["doc-00010", "doc-00011"]);
        var info = await collection.GetInfo();
        Assert.Equal((2499, 2), (info.DocumentCount, info.UnsettledCount));

        var listed = new List<string>();
        await foreach (var page in collection.DocumentPagesAsync(pageSize: 700)) listed.AddRange(page);
        Assert.Equal(ids.Where(id => id != "doc-00007"), listed);
        var exact = await collection.ListDocuments("doc-02498", 1); // the last page is full and says so: one more call finds none
        Assert.Equal(["doc-02499"], exact.DocumentIds);
        Assert.Equal("doc-02499", exact.Next);
        var past = await collection.ListDocuments("doc-02499", 1);
        Assert.Empty(past.DocumentIds);
        Assert.Null(past.Next);
        await Assert.ThrowsAsync<InvalidRequestException>(() => collection.ListDocuments(null, 0));

        // A new activation reads the head and counts back from storage.
        var versionBefore = info.Version;
        await cluster.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        info = await collection.GetInfo();
        Assert.Equal((2499, 2, versionBefore, 2), (info.DocumentCount, info.UnsettledCount, info.Version, info.Settings.ShardCount));
    }

    [Fact]
    public async Task A_document_leaves_memory_once_indexed_and_answers_from_storage_after()
    {
        // A bulk load of a million documents must not keep a million idle activations until the collection age.
        await using var cluster = await RagTestCluster.StartAsync(1);
        await cluster.Grains.GetGrain<ICollectionGrain>("t.gone").Create(new CollectionSettings(2, 256, 32) { Dimensions = 4 });
        var ids = Enumerable.Range(0, 30).Select(i => $"t.gone/d{i}").ToArray();
        await Task.WhenAll(ids.Select((id, i) => cluster.Grains.GetGrain<IDocumentGrain>(id).Ingest(new IngestRequest(OwnVectorChunks.Format,
            OwnVectorChunks.Encode([new OwnVectorChunk($"chunk {i}", [1, i, 0, 0])], 4), [], null))));
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (await cluster.ActiveDocumentsAsync() > 0 && waited.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(200);
        Assert.Equal(0, await cluster.ActiveDocumentsAsync());
        Assert.Equal(30, (await cluster.Grains.GetGrain<ICollectionGrain>("t.gone").GetInfo()).DocumentCount);
        var status = await cluster.Grains.GetGrain<IDocumentGrain>(ids[7]).GetStatus();
        Assert.Equal((DocumentStatuses.Indexed, 1), (status.Status, status.ChunkCount));
    }

    [Fact]
    public async Task A_collection_stored_whole_by_an_older_version_moves_into_rows_on_activation()
    {
        await using var cluster = await RagTestCluster.StartAsync(1);
        var silo = (InProcessSiloHandle)cluster.Cluster.Primary!;
        var storage = silo.SiloHost.Services.GetRequiredService<IGrainStorage>();
        var collection = cluster.Grains.GetGrain<ICollectionRegistryGrain>("t.legacy");
        var old = new CollectionState
        {
            Settings = new CollectionSettings(3, 128, 16), Version = 41,
            Documents = ["a", "b", "c"], Unsettled = new() { ["c"] = DateTime.UtcNow, ["d"] = DateTime.UtcNow },
        };
        var grainId = collection.GetGrainId();
        await storage.WriteStateAsync("collection", grainId, new GrainState<CollectionState>(old));

        var info = await collection.GetInfo();
        Assert.Equal((3, 41L, 3, 2), (info.Settings.ShardCount, info.Version, info.DocumentCount, info.UnsettledCount));
        Assert.Equal(["a", "b", "c"], (await collection.ListDocuments(null, 10)).DocumentIds);
        var cleared = new GrainState<CollectionState>(new CollectionState());
        await storage.ReadStateAsync("collection", grainId, cleared);
        Assert.False(cleared.RecordExists && cleared.State!.Documents.Count > 0, "the old record was not cleared");
        Assert.True(await collection.DocumentChanged("e", present: true, [0]) > 41); // written before generation 1 was the first
        Assert.Equal(4, (await collection.GetInfo()).DocumentCount);
    }
}
