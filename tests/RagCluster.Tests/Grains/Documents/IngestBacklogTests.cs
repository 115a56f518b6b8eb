using RagCluster.Grains.Interfaces.Security;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// What a silo holds while documents wait to be indexed: a bounded backlog (past it a new document is refused, nothing
/// stored, and taken once the backlog drains), and no acceptance record or activation left once a document settles.
/// </summary>
public sealed class IngestBacklogTests
{
    private static IngestRequest Vector(int i) =>
        new(OwnVectorChunks.Format, OwnVectorChunks.Encode([new OwnVectorChunk($"chunk {i}", [1, i, 0, 0])], 4), [], null);

    [Fact]
    public void The_backlog_counts_documents_and_bytes_and_always_takes_one()
    {
        var slots = new IndexingSlots(1, maxQueuedDocuments: 2, maxQueuedBytes: 100);
        Assert.True(slots.TryQueue(500)); // larger than the bound, but alone: refusing it would refuse it forever
        Assert.False(slots.TryQueue(1));
        slots.Dequeue(500);
        Assert.True(slots.TryQueue(60));
        Assert.False(slots.TryQueue(60)); // 120 bytes
        Assert.True(slots.TryQueue(40));
        Assert.False(slots.TryQueue(1)); // 3 documents
        slots.Queue(10); // resumed from storage: counted, never refused
        Assert.Equal(3, slots.QueuedDocuments);
    }

    [Fact]
    public void A_full_backlog_is_a_retriable_503_for_the_document_alone()
    {
        var refusal = DocumentRefusal.Of(new IngestBacklogFullException("full"));
        Assert.Equal((503, "Ingest backlog full", true), (refusal.Status, refusal.Title, refusal.Retryable));
    }

    [Fact]
    public void A_call_cancelled_inside_the_cluster_is_a_retriable_503_not_a_500()
    {
        // What Orleans gave a caller whose grain could not be placed before its message expired, a silo having died (the
        // fault suite's phase 2 answered it 500).
        var refusal = DocumentRefusal.Of(new OperationCanceledException("Message expired before placement could complete for grain collection/default.kb."));
        Assert.Equal((503, true), (refusal.Status, refusal.Retryable));
    }

    [Fact]
    public async Task A_silo_refuses_new_documents_past_its_backlog_and_takes_them_once_it_drains()
    {
        await using var cluster = await RagTestCluster.StartAsync(1, settings: new()
        {
            ["Ingest:MaxConcurrentDocuments"] = "1", ["Ingest:MaxQueuedDocuments"] = "3",
        });
        await cluster.Grains.GetGrain<ICollectionGrain>("t.full").Create(new CollectionSettings(2, 256, 32) { Dimensions = 4 });
        var slots = ((InProcessSiloHandle)cluster.Cluster.Primary!).SiloHost.Services.GetRequiredService<IndexingSlots>();
        IDocumentGrain Document(int i) => cluster.Grains.GetGrain<IDocumentGrain>($"t.full/d{i}");

        // The test holds the silo's only slot, so nothing indexes: three documents wait, the next two are refused.
        var held = await slots.EnterAsync();
        for (var i = 0; i < 3; i++) Assert.Equal(DocumentStatuses.Pending, (await Document(i).Ingest(Vector(i))).Status);
        for (var i = 3; i < 5; i++)
        {
            var refused = await Assert.ThrowsAsync<IngestBacklogFullException>(() => Document(i).Ingest(Vector(i)));
            Assert.Contains("3 document(s) waiting", refused.Message);
            Assert.Equal("unknown", (await Document(i).GetStatus()).Status); // nothing stored
        }
        // Sending a waiting document again takes no new place in the backlog.
        Assert.Equal(DocumentStatuses.Pending, (await Document(1).Ingest(Vector(1))).Status);

        held.Dispose();
        await Poll.UntilAsync(async () => (await cluster.Grains.GetGrain<ICollectionGrain>("t.full").GetInfo()).DocumentCount == 3);
        await Poll.UntilAsync(() => Task.FromResult(slots.QueuedDocuments == 0));
        for (var i = 3; i < 5; i++) await Document(i).Ingest(Vector(i));
        await Poll.UntilAsync(async () => (await cluster.Grains.GetGrain<ICollectionGrain>("t.full").GetInfo()).DocumentCount == 5);
        // The collection counts a document once its shard holds it; the document marks itself indexed just after, so
        // its status is waited for, not read at once (read at once it was once still "pending").
        await Poll.UntilAsync(async () =>
        {
            var statuses = await Task.WhenAll(Enumerable.Range(0, 5).Select(async i => (await Document(i).GetStatus()).Status));
            return statuses.All(s => s == DocumentStatuses.Indexed);
        });
    }

    [Fact]
    public async Task A_request_waits_for_room_in_a_full_backlog_and_is_refused_whole_when_none_comes()
    {
        await using var cluster = await RagTestCluster.StartAsync(1, settings: new()
        {
            ["Ingest:MaxConcurrentDocuments"] = "1", ["Ingest:MaxQueuedDocuments"] = "3", ["Ingest:AdmissionHold"] = "00:00:01",
        });
        await cluster.Grains.GetGrain<ICollectionGrain>("t.admit").Create(new CollectionSettings(2, 256, 32));
        var slots = ((InProcessSiloHandle)cluster.Cluster.Primary!).SiloHost.Services.GetRequiredService<IndexingSlots>();
        static List<(string, IngestRequest)> Texts(params int[] ids) =>
            ids.Select(i => ($"t{i}", new IngestRequest("txt", System.Text.Encoding.UTF8.GetBytes($"text number {i}"), [], null))).ToList();

        var held = await slots.EnterAsync(); // nothing indexes: the backlog fills
        Assert.All(await DocumentBatch.IngestAsync(cluster.Grains, "t.admit", Texts(0, 1, 2), ReadAccess.All, default, slots), r => Assert.Equal(DocumentStatuses.Pending, r.Status!.Status));
        var refused = await Assert.ThrowsAsync<IngestBacklogFullException>(() => DocumentBatch.IngestAsync(cluster.Grains, "t.admit", Texts(3, 4), ReadAccess.All, default, slots));
        Assert.Contains("nothing of the request was accepted", refused.Message);
        Assert.Equal("unknown", (await cluster.Grains.GetGrain<IDocumentGrain>("t.admit/t3").GetStatus()).Status);
        Assert.Equal(3, (await cluster.Grains.GetGrain<ICollectionGrain>("t.admit").GetInfo()).UnsettledCount); // the first three only

        // A request whose client goes away while it waits ends there, and nothing of it is accepted.
        using (var gone = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => DocumentBatch.IngestAsync(cluster.Grains, "t.admit", Texts(5), ReadAccess.All, gone.Token, slots));
        Assert.Equal("unknown", (await cluster.Grains.GetGrain<IDocumentGrain>("t.admit/t5").GetStatus()).Status);

        // A request that arrives while it is full waits, and is taken once the backlog drains.
        var waiting = DocumentBatch.IngestAsync(cluster.Grains, "t.admit", Texts(3, 4), ReadAccess.All, default, slots);
        await Task.WhenAny(waiting, Task.Delay(200));
        Assert.False(waiting.IsCompleted); // still held: it cannot end while the slot is held, so this cannot pass by luck
        held.Dispose();
        Assert.All(await waiting, r => Assert.Null(r.Refusal));
        await Poll.UntilAsync(async () => (await cluster.Grains.GetGrain<ICollectionGrain>("t.admit").GetInfo()).DocumentCount == 5);
        Assert.Equal("unknown", (await cluster.Grains.GetGrain<IDocumentGrain>("t.admit/t5").GetStatus()).Status); // the cancelled one, still not taken
    }

    [Fact]
    public async Task A_settled_document_leaves_no_acceptance_record_for_the_sweep_to_check()
    {
        // A sweep an hour away: only the documents' own notices can settle the records in this test.
        await using var cluster = await RagTestCluster.StartAsync(1, settings: new() { ["Ingest:PendingSweepPeriod"] = "01:00:00" });
        var collection = cluster.Grains.GetGrain<ICollectionGrain>("t.settle");
        await collection.Create(new CollectionSettings(2, 256, 32) { Dimensions = 4 });
        var batch = Enumerable.Range(0, 40).Select(i => ($"d{i}", Vector(i))).ToList();

        Assert.All(await DocumentBatch.IngestAsync(cluster.Grains, "t.settle", batch, ReadAccess.All, default), r => Assert.Null(r.Refusal));
        await Poll.UntilAsync(async () => await collection.GetInfo() is { DocumentCount: 40, UnsettledCount: 0 });
        await Poll.UntilAsync(async () => await cluster.ActiveDocumentsAsync() == 0);

        // The same batch again (a client resending after a timeout): accepted, already indexed, settled at once.
        Assert.All(await DocumentBatch.IngestAsync(cluster.Grains, "t.settle", batch, ReadAccess.All, default), r => Assert.Equal(DocumentStatuses.Indexed, r.Status!.Status));
        await Poll.UntilAsync(async () => (await collection.GetInfo()).UnsettledCount == 0);
        await Poll.UntilAsync(async () => await cluster.ActiveDocumentsAsync() == 0);
        Assert.Equal(40, (await collection.GetInfo()).DocumentCount);
    }
}
