using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// One-chunk documents with their vectors take the bulk path: stored per batch (registry and shards), no document grain
/// activated to write them, answered "indexed"; their grain takes them over when one is changed through it, and a bulk
/// write a crash cut off is settled by the sweep from what its shard holds.
/// </summary>
public sealed class BulkWriteTests
{
    private static IngestRequest Vector(int i, float tilt = 0) =>
        new(OwnVectorChunks.Format, OwnVectorChunks.Encode([new OwnVectorChunk($"chunk {i}", Direction(i, tilt))], 4), new() { ["n"] = $"{i}" }, null);

    private static float[] Direction(int i, float tilt = 0) => [MathF.Cos(i * 0.01f), MathF.Sin(i * 0.01f), tilt, 1];

    private static async Task<string?> TopHit(RagTestCluster cluster, string collection, int i)
    {
        var hits = new List<ShardHit>();
        foreach (var key in await cluster.Grains.ShardKeysAsync(collection))
            hits.AddRange((await cluster.Grains.GetGrain<IIndexShardGrain>(key).Search(new ShardQuery(Direction(i), null, 1, 64, null))).Dense);
        return hits.OrderByDescending(h => h.Score).FirstOrDefault()?.DocumentId;
    }

    [Fact]
    public async Task A_batch_of_one_vector_documents_is_stored_without_a_document_activation_and_its_grain_takes_over_on_change()
    {
        await using var cluster = await RagTestCluster.StartAsync(1);
        var collection = cluster.Grains.GetGrain<ICollectionRegistryGrain>("t.bulk");
        await collection.Create(new CollectionSettings(2, 256, 32) { Dimensions = 4 });
        var batch = Enumerable.Range(0, 200).Select(i => ($"d{i}", Vector(i))).ToList();

        var stored = await DocumentBatch.IngestAsync(cluster.Grains, "t.bulk", batch, ReadAccess.All, default);
        Assert.All(stored, r => Assert.Equal(DocumentStatuses.Indexed, r.Status!.Status));
        Assert.Equal(0, await cluster.ActiveDocumentsAsync()); // nothing activated per document on the way in
        Assert.Equal((200, 0), (await collection.GetInfo()) is var info ? (info.DocumentCount, info.UnsettledCount) : default);
        Assert.Equal("d150", await TopHit(cluster, "t.bulk", 150)); // searchable once acknowledged
        var version = stored[7].Status!.Version;

        // The grain answers from the registry's record; the same content again changes nothing.
        var d7 = cluster.Grains.GetGrain<IDocumentGrain>("t.bulk/d7");
        Assert.Equal((DocumentStatuses.Indexed, version, 1), (await d7.GetStatus()) is var s ? (s.Status, s.Version, s.ChunkCount) : default);
        var again = await DocumentBatch.IngestAsync(cluster.Grains, "t.bulk", batch.Take(10).ToList(), ReadAccess.All, default);
        Assert.Equal(version, again[7].Status!.Version);

        // New content in bulk: a newer version, the shard holds the new vector.
        var changed = await DocumentBatch.IngestAsync(cluster.Grains, "t.bulk", [("d8", Vector(8, tilt: 5))], ReadAccess.All, default);
        Assert.True(changed[0].Status!.Version > stored[8].Status!.Version);

        // Through its grain (the single-document path): it takes the record over at a higher version, and from then
        // on bulk writes of it go to the grain too.
        var bulkVersion = (await d7.GetStatus()).Version;
        await d7.Ingest(new IngestRequest(OwnVectorChunks.Format,
            OwnVectorChunks.Encode([new OwnVectorChunk("one", Direction(7)), new OwnVectorChunk("two", Direction(7, 1))], 4), [], null));
        await Poll.UntilAsync(async () => (await d7.GetStatus()).Status == DocumentStatuses.Indexed);
        var grainVersion = (await d7.GetStatus()).Version;
        Assert.True(grainVersion > bulkVersion);
        Assert.Equal(2, (await d7.GetStatus()).ChunkCount);
        var viaGrain = await DocumentBatch.IngestAsync(cluster.Grains, "t.bulk", [("d7", Vector(7))], ReadAccess.All, default);
        Assert.Equal(DocumentStatuses.Pending, viaGrain[0].Status!.Status);
        await Poll.UntilAsync(async () => (await d7.GetStatus()) is { Status: DocumentStatuses.Indexed, ChunkCount: 1 });
        Assert.Equal(grainVersion + 1, (await d7.GetStatus()).Version);

        // A bulk document deleted through its grain leaves the shards and the registry.
        Assert.True(await cluster.Grains.GetGrain<IDocumentGrain>("t.bulk/d150").Delete());
        Assert.Equal(DocumentStatuses.Deleted, (await cluster.Grains.GetGrain<IDocumentGrain>("t.bulk/d150").GetStatus()).Status);
        Assert.NotEqual("d150", await TopHit(cluster, "t.bulk", 150));
        await Poll.UntilAsync(async () => await collection.GetInfo() is { DocumentCount: 199, UnsettledCount: 0 });

        // Written again in bulk after that delete: a version past the deletion's, so the shards take it.
        var back = await DocumentBatch.IngestAsync(cluster.Grains, "t.bulk", [("d150", Vector(150))], ReadAccess.All, default);
        Assert.Equal(DocumentStatuses.Indexed, back[0].Status!.Status);
        Assert.Equal("d150", await TopHit(cluster, "t.bulk", 150));
        // Its grain, still active from the delete, reads the newer record rather than what it last stored.
        Assert.Equal((DocumentStatuses.Indexed, back[0].Status!.Version),
            (await cluster.Grains.GetGrain<IDocumentGrain>("t.bulk/d150").GetStatus()) is var b ? (b.Status, b.Version) : default);
    }

    [Fact]
    public async Task A_bulk_write_cut_off_before_it_registered_is_settled_by_the_sweep_from_what_its_shard_holds()
    {
        await using var cluster = await RagTestCluster.StartAsync(1, settings: new() { ["Ingest:PendingSweepPeriod"] = "00:00:01" });
        var collection = cluster.Grains.GetGrain<ICollectionRegistryGrain>("t.cut");
        var layout = (await collection.Create(new CollectionSettings(1, 256, 32) { Dimensions = 4 })).Layout;
        var shard = layout.ShardKey("t.cut", 0);

        // As a front end that died after BeginBulk and one shard write: e1 reached its shard, e2 did not.
        var entries = new[] { new BulkEntry("e1", "h1", 1, [], OwnVectorChunks.Format), new BulkEntry("e2", "h2", 1, [], OwnVectorChunks.Format) };
        var begun = await collection.BeginBulk(entries);
        var e1 = begun.Records[0]!;
        await cluster.Grains.GetGrain<IIndexShardGrain>(shard).UpsertMany(
            [new ShardUpsert("e1", e1.Version, [new ChunkRecord("e1#0", "e1", 0, 0, 0, "", [], [], Direction(1))])]);

        // While it is in flight the grain path refuses the id (a retriable 503), storing nothing.
        await Assert.ThrowsAsync<DocumentBusyException>(() => cluster.Grains.GetGrain<IDocumentGrain>("t.cut/e1").Ingest(Vector(1)));
        Assert.True(DocumentRefusal.Of(new DocumentBusyException("busy")).Retryable);

        await Poll.UntilAsync(async () => (await collection.GetInfo()).UnsettledCount == 0);
        Assert.Equal(1, (await collection.GetInfo()).DocumentCount);
        var status = await cluster.Grains.GetGrain<IDocumentGrain>("t.cut/e1").GetStatus();
        Assert.Equal((DocumentStatuses.Indexed, e1.Version), (status.Status, status.Version));
        Assert.Equal("unknown", (await cluster.Grains.GetGrain<IDocumentGrain>("t.cut/e2").GetStatus()).Status);

        // A late EndBulk for e1 registers nothing twice. e2's write reaching its shard after the sweep gave it up (a
        // call slower than a period) is still registered by its EndBulk, as nothing newer was written meanwhile.
        Assert.True(await collection.EndBulk(["e1"], [e1], [layout.Generation]));
        Assert.Equal(1, (await collection.GetInfo()).DocumentCount);
        var e2 = begun.Records[1]!;
        await cluster.Grains.GetGrain<IIndexShardGrain>(shard).UpsertMany(
            [new ShardUpsert("e2", e2.Version, [new ChunkRecord("e2#0", "e2", 0, 0, 0, "", [], [], Direction(2))])]);
        Assert.True(await collection.EndBulk(["e2"], [e2], [layout.Generation]));
        Assert.Equal(2, (await collection.GetInfo()).DocumentCount);
        Assert.Equal(e2.Version, (await cluster.Grains.GetGrain<IDocumentGrain>("t.cut/e2").GetStatus()).Version);

        // Once its grain owns a document (written through it), a late bulk write of an older version registers nothing,
        // and the grain's version is past it, so the shard keeps the grain's.
        var late = (await collection.BeginBulk([new BulkEntry("e3", "h3", 1, [], OwnVectorChunks.Format)])).Records[0]!;
        await Poll.UntilAsync(async () => (await collection.GetInfo()).UnsettledCount == 0); // given up: nothing in its shard
        var e3 = cluster.Grains.GetGrain<IDocumentGrain>("t.cut/e3");
        await e3.Ingest(Vector(3));
        await Poll.UntilAsync(async () => (await e3.GetStatus()).Status == DocumentStatuses.Indexed);
        Assert.True((await e3.GetStatus()).Version > late.Version);
        await cluster.Grains.GetGrain<IIndexShardGrain>(shard).UpsertMany(
            [new ShardUpsert("e3", late.Version, [new ChunkRecord("e3#0", "e3", 0, 0, 0, "late", [], [], Direction(30))])]);
        Assert.True(await collection.EndBulk(["e3"], [late], [layout.Generation]));
        Assert.Equal((await e3.GetStatus()).Version, (await cluster.Grains.GetGrain<IIndexShardGrain>(shard).Versions(["e3"]))["e3"]);
        Assert.Equal(3, (await collection.GetInfo()).DocumentCount);
    }

    [Fact]
    public async Task A_collection_deleted_during_a_bulk_write_registers_nothing_and_its_shards_keep_nothing()
    {
        await using var cluster = await RagTestCluster.StartAsync(1);
        var collection = cluster.Grains.GetGrain<ICollectionRegistryGrain>("t.gone");
        var layout = (await collection.Create(new CollectionSettings(1, 256, 32) { Dimensions = 4 })).Layout;
        var begun = await collection.BeginBulk([new BulkEntry("g1", "h", 1, [], OwnVectorChunks.Format)]);
        await collection.BeginDelete();
        Assert.False(await collection.EndBulk(["g1"], [begun.Records[0]!], [layout.Generation]));
        Assert.Equal((0, 0), (await collection.GetInfo()) is var info ? (info.DocumentCount, info.UnsettledCount) : default);
        var refused = await DocumentBatch.IngestAsync(cluster.Grains, "t.gone", [("g2", Vector(2))], ReadAccess.All, default);
        Assert.Equal(409, refused[0].Refusal!.Status);
    }
}
