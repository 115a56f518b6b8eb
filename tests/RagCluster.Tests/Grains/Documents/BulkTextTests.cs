using RagCluster.Grains.Interfaces.Security;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.TestingHost;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Small texts of a batch take the bulk text path: accepted pending in one registry write with their content, then
/// chunked, embedded and written a batch at a time by the accepting silo's indexer; a document reads pending, then
/// indexed, with the chunks and vectors its own grain would have given it; texts whose silo is gone are taken over by
/// the collection's sweep.
/// </summary>
public sealed class BulkTextTests
{
    // Vectors from the hashing encoder (the test tokenizer, no model): the paths must agree on them, not on meaning.
    private static readonly Dictionary<string, string?> Hashing = new()
    {
        ["Embedding:Encoder"] = "hashing", ["Embedding:ModelDirectory"] = RepoPaths.TokenizerDir, ["Ingest:PendingSweepPeriod"] = "00:00:01",
    };

    private static IngestRequest Text(string text) => new("txt", Encoding.UTF8.GetBytes(text), new() { ["lang"] = "en" }, null);

    private static string Words(int i, int count) =>
        string.Join(' ', Enumerable.Range(0, count).Select(k => $"word{(i * 7 + k) % 97} sentence{k % 13}" + (k % 9 == 8 ? "." : "")));

    private static (IndexingSlots Slots, BulkTextIndexer Indexer) Services(RagTestCluster cluster)
    {
        var services = ((InProcessSiloHandle)cluster.Cluster.Primary!).SiloHost.Services;
        return (services.GetRequiredService<IndexingSlots>(), services.GetRequiredService<BulkTextIndexer>());
    }

    // A silo address no member has: a note naming it was left by a silo that is gone.
    private static readonly string GoneSilo = SiloAddress.New(System.Net.IPAddress.Loopback, 1, 1).ToParsableString();

    /// <summary>An in-flight note as a batch's acceptance writes it, naming <paramref name="silo"/> as the one indexing it.</summary>
    private static BulkEntry Note(string id, IngestRequest request, string silo) =>
        new(id, DocumentGrain.Hash(request), 0, request.Tags, "txt") { Content = request.Content, Silo = silo };

    private static Task AllIndexedAsync(RagTestCluster cluster, string collection, IEnumerable<string> ids) =>
        Poll.UntilAsync(async () => (await Task.WhenAll(ids.Select(id =>
            cluster.Grains.GetGrain<IDocumentGrain>($"{collection}/{id}").GetStatus()))).All(s => s.Status == DocumentStatuses.Indexed));

    private static async Task<ChunkRecord[]> Chunks(RagTestCluster cluster, string collection, string id)
    {
        var chunks = new List<ChunkRecord>();
        foreach (var key in await cluster.Grains.ShardKeysAsync(collection))
            chunks.AddRange((await cluster.Grains.GetGrain<IIndexShardGrain>(key).Documents([id], includeVectors: true)).Chunks);
        return chunks.OrderBy(c => c.Ordinal).ToArray();
    }

    [Fact]
    public async Task A_batch_of_texts_reads_pending_then_indexed_with_the_chunks_and_vectors_its_own_grain_gives()
    {
        await using var cluster = await RagTestCluster.StartAsync(1, settings: Hashing);
        var (slots, indexer) = Services(cluster);
        foreach (var key in new[] { "t.bulktext", "t.bygrain" })
            await cluster.Grains.GetGrain<ICollectionGrain>(key).Create(new CollectionSettings(3, 48, 8));
        // Short texts of one chunk and longer ones of several, which land on several shards.
        var documents = Enumerable.Range(0, 40).Select(i => ($"d{i}", Text(Words(i, i % 4 == 0 ? 120 : 12)))).ToList();

        var answers = await DocumentBatch.IngestAsync(cluster.Grains, "t.bulktext", documents, ReadAccess.All, default, slots, indexer);
        Assert.All(answers, a => Assert.Equal(DocumentStatuses.Pending, a.Status!.Status));
        foreach (var (id, request) in documents) await cluster.Grains.GetGrain<IDocumentGrain>($"t.bygrain/{id}").Ingest(request);

        await AllIndexedAsync(cluster, "t.bulktext", documents.Select(d => d.Item1));
        await AllIndexedAsync(cluster, "t.bygrain", documents.Select(d => d.Item1));
        // A text leaves the backlog just after its registration says indexed: wait for that, not for a race.
        await Poll.UntilAsync(() => Task.FromResult(indexer.Indexing == 0 && slots.QueuedDocuments == 0));

        var info = await cluster.Grains.GetGrain<ICollectionGrain>("t.bulktext").GetInfo();
        Assert.Equal((40, 0), (info.DocumentCount, info.UnsettledCount));
        foreach (var (id, _) in documents)
        {
            var (bulk, own) = (await Chunks(cluster, "t.bulktext", id), await Chunks(cluster, "t.bygrain", id));
            Assert.NotEmpty(bulk);
            Assert.Equal(own.Select(c => (c.ChunkId, c.Text, c.Start, c.End)), bulk.Select(c => (c.ChunkId, c.Text, c.Start, c.End)));
            for (var k = 0; k < own.Length; k++) Assert.Equal(own[k].Vector!, bulk[k].Vector!);
            var status = await cluster.Grains.GetGrain<IDocumentGrain>($"t.bulktext/{id}").GetStatus();
            Assert.Equal(own.Length, status.ChunkCount);
        }
        Assert.Contains(documents, d => Chunks(cluster, "t.bulktext", d.Item1).Result.Length > 1);

        // The same text again is nothing new; a changed one is a new version whose chunks replace the old ones everywhere.
        var again = await DocumentBatch.IngestAsync(cluster.Grains, "t.bulktext", [documents[0]], ReadAccess.All, default, slots, indexer);
        Assert.Equal(DocumentStatuses.Indexed, again[0].Status!.Status);
        var before = again[0].Status!.Version;
        var changed = await DocumentBatch.IngestAsync(cluster.Grains, "t.bulktext", [("d0", Text("one short sentence now"))], ReadAccess.All, default, slots, indexer);
        Assert.True(changed[0].Status!.Version > before);
        await Poll.UntilAsync(async () => (await cluster.Grains.GetGrain<IDocumentGrain>("t.bulktext/d0").GetStatus()).Status == DocumentStatuses.Indexed);
        Assert.Equal(["one short sentence now"], (await Chunks(cluster, "t.bulktext", "d0")).Select(c => c.Text));
    }

    [Fact]
    public async Task Texts_a_gone_silo_accepted_in_bulk_are_indexed_by_the_sweep_of_a_live_one()
    {
        await using var cluster = await RagTestCluster.StartAsync(1, settings: Hashing);
        var collection = cluster.Grains.GetGrain<ICollectionRegistryGrain>("t.orphans");
        await collection.Create(new CollectionSettings(2, 48, 8));
        // Accepted as a silo that then died would have left them: noted with their content, naming that silo, never
        // indexed; and one naming this silo whose indexer never got it (its acceptance's answer was lost on the way).
        var here = Services(cluster).Indexer.Silo;
        var entries = Enumerable.Range(0, 5).Select(i => Note($"o{i}", Text(Words(i, 30)), i == 4 ? here : GoneSilo)).ToArray();
        var acceptance = await collection.BeginBulk(entries);
        Assert.All(acceptance.Records, r => Assert.NotNull(r));
        Assert.Equal(DocumentStatuses.Pending, (await cluster.Grains.GetGrain<IDocumentGrain>("t.orphans/o0").GetStatus()).Status);

        // The sweep (every second here) hands them to this silo's indexer once they are a period old.
        await AllIndexedAsync(cluster, "t.orphans", entries.Select(e => e.Id));
        var info = await collection.GetInfo();
        Assert.Equal((5, 0), (info.DocumentCount, info.UnsettledCount));
        Assert.NotEmpty(await Chunks(cluster, "t.orphans", "o3"));
    }

    [Fact]
    public async Task A_text_pending_when_its_collection_is_dropped_is_not_stored_in_the_collection_created_again()
    {
        await using var cluster = await RagTestCluster.StartAsync(1, settings: Hashing);
        var collection = cluster.Grains.GetGrain<ICollectionRegistryGrain>("t.redo");
        await collection.Create(new CollectionSettings(1, 48, 8));
        await collection.BeginBulk([Note("p", Text(Words(3, 30)), GoneSilo)]);
        // Dropped before any silo indexed it, and created again under the same name.
        await collection.BeginDelete();
        await collection.Drop();
        await collection.Create(new CollectionSettings(1, 48, 8));

        // The sweep hands the note over; the indexer finds it belongs to the dropped creation: the note goes, nothing is stored.
        await Poll.UntilAsync(async () => (await collection.GetInfo()).UnsettledCount == 0);
        Assert.Equal("unknown", (await DocumentBatch.StatusesAsync(cluster.Grains, "t.redo", ["p"]))[0].Status);
        Assert.Empty(await Chunks(cluster, "t.redo", "p"));
        Assert.Equal(0, (await collection.GetInfo()).DocumentCount);
    }

    [Fact]
    public async Task A_text_in_flight_is_busy_for_its_own_grain_and_its_resend_is_the_same_write()
    {
        // The sweep at its default period (30 s): nothing takes the note over during the test.
        await using var cluster = await RagTestCluster.StartAsync(1, settings: new(Hashing) { ["Ingest:PendingSweepPeriod"] = "00:00:30" });
        var collection = cluster.Grains.GetGrain<ICollectionRegistryGrain>("t.inflight");
        await collection.Create(new CollectionSettings(1, 48, 8));
        // A note naming this live silo that its indexer never got: in flight until the sweep finds it a period old.
        var (slots, indexer) = Services(cluster);
        var request = Text(Words(1, 20));
        var entry = Note("x", request, indexer.Silo);
        var first = await collection.BeginBulk([entry]);
        var resent = await collection.BeginBulk([entry]);
        Assert.True(resent.Unchanged[0]);
        Assert.Equal(first.Records[0]!.Version, resent.Records[0]!.Version);

        var busy = await Assert.ThrowsAsync<RagCluster.Grains.Interfaces.Errors.DocumentBusyException>(() =>
            cluster.Grains.GetGrain<IDocumentGrain>("t.inflight/x").Ingest(Text("another text")));
        Assert.Contains("bulk", busy.Message);
        Assert.Equal(DocumentStatuses.Pending, (await cluster.Grains.GetGrain<IDocumentGrain>("t.inflight/x").GetStatus()).Status);

        // Many statuses at once: the bulk one from the registry, a grain's own from its grain, an unknown id as unknown.
        await cluster.Grains.GetGrain<IDocumentGrain>("t.inflight/own").Ingest(Text("a document with a grain of its own"));
        await Poll.UntilAsync(async () => (await cluster.Grains.GetGrain<IDocumentGrain>("t.inflight/own").GetStatus()).Status == DocumentStatuses.Indexed);
        var statuses = await DocumentBatch.StatusesAsync(cluster.Grains, "t.inflight", ["x", "own", "nope"]);
        Assert.Equal([DocumentStatuses.Pending, DocumentStatuses.Indexed, "unknown"], statuses.Select(s => s.Status));
        Assert.Equal(first.Records[0]!.Version, statuses[0].Version);

        // The client sends the same text again (its first answer lost): the same write answers, and this silo indexes it.
        var again = await DocumentBatch.IngestAsync(cluster.Grains, "t.inflight", [("x", request)], ReadAccess.All, default, slots, indexer);
        Assert.Equal((DocumentStatuses.Pending, first.Records[0]!.Version), (again[0].Status!.Status, again[0].Status!.Version));
        await Poll.UntilAsync(async () => await cluster.Grains.GetGrain<IDocumentGrain>("t.inflight/x").GetStatus() is { Status: DocumentStatuses.Indexed } s
                                          && s.Version == first.Records[0]!.Version, seconds: 10); // well before the sweep's first tick
    }
}
