using System.Text;
using Orleans;
using Orleans.Runtime;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// The collection's sweep of unsettled documents lets an acceptance go only once the document holds that write (or a
/// later one) and is done with it: the done status of an earlier version says nothing about a write on its way to
/// storage, which a crash after its acknowledgement would otherwise leave pending with nobody to resume it.
/// </summary>
public sealed class DocumentSweepTests
{
    private const string Key = "t.sweep";

    private static IngestRequest Text(string text, long acceptedAt = 0) => new("txt", Encoding.UTF8.GetBytes(text), [], null, acceptedAt);

    private static Task Sweep(RagTestCluster cluster) =>
        cluster.Grains.GetGrain<ICollectionGrain>(Key).AsReference<IRemindable>().ReceiveReminder("unsettled-documents", new TickStatus());

    [Fact]
    public async Task An_update_accepted_but_not_yet_stored_stays_unsettled_though_its_earlier_version_reads_indexed()
    {
        await using var cluster = await RagTestCluster.StartAsync(1);
        var collection = cluster.Grains.GetGrain<ICollectionRegistryGrain>(Key);
        await collection.Create(new CollectionSettings(1, 256, 32));
        var document = cluster.Grains.GetGrain<IDocumentGrain>($"{Key}/d1");
        await document.Ingest(Text("the first version"));
        await Poll.UntilAsync(async () => (await document.GetStatus()).Status == DocumentStatuses.Indexed);
        await Sweep(cluster);
        Assert.Equal(0, (await collection.GetInfo()).UnsettledCount);

        // The second version's acceptance, noted with the collection before its write reaches storage (as Ingest does).
        var acceptance = await collection.DocumentsAccepted(["d1"]);
        await Sweep(cluster);
        Assert.Equal(1, (await collection.GetInfo()).UnsettledCount); // "indexed" is the first version's, not this write's

        // The write arrives with that acceptance and is indexed: then the sweep lets it go.
        await document.Ingest(Text("the second version", acceptance.Stamp));
        await Poll.UntilAsync(async () => await document.GetStatus() is { Status: DocumentStatuses.Indexed, Version: 2 });
        await Sweep(cluster);
        Assert.Equal(0, (await collection.GetInfo()).UnsettledCount);
    }
}
