using Orleans.Runtime;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Embedding;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Hosting.Diagnostics;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Silo roles (Silo:Roles): a silo without the embedding role chunks but never runs the model; its texts go to an
/// embedding silo. With none active, documents wait (pending, saying why) and queries run on BM25, until one joins.
/// </summary>
[Collection("cluster")]
public sealed class EmbeddingRoleTests
{
    [Fact]
    public async Task Texts_are_embedded_only_on_embedding_silos_and_documents_wait_while_none_is_active()
    {
        await using var cluster = await RagTestCluster.StartAsync(1, settings: new()
        {
            ["Embedding:ModelDirectory"] = RepoPaths.TestModel,
            ["Collections:ShardCount"] = "2",
            ["Silo:Roles"] = "none", // every silo, unless named below
            ["Test:Roles:Secondary_1"] = "embedding",
            ["Test:Roles:Secondary_2"] = "embedding",
        });
        var grains = cluster.Grains;
        var primary = cluster.Cluster.Primary!.SiloAddress;
        async Task<EmbeddingInfo> Report(SiloAddress silo) => (await grains.GetGrain<ISiloDiagnosticsGrain>(silo.ToParsableString()).GetReport()).Embedding!;
        async Task<DocumentStatus> Ingest(string id, string text)
        {
            await grains.GetGrain<IDocumentGrain>($"roles/{id}").Ingest(new IngestRequest("txt", System.Text.Encoding.UTF8.GetBytes(text), [], null));
            return await grains.GetGrain<IDocumentGrain>($"roles/{id}").GetStatus();
        }
        Task<DocumentStatus> Status(string id) => grains.GetGrain<IDocumentGrain>($"roles/{id}").GetStatus();

        // No embedding silo: the document is accepted and waits, saying why; a query runs on BM25 alone.
        Assert.Empty((await Report(primary)).Roles);
        await Ingest("first", "Lanthanum oxide catalysts in the water gas shift reaction.");
        await Poll.UntilAsync(async () => (await Status("first")).Waiting is not null, seconds: 30);
        var waiting = await Status("first");
        Assert.Equal(DocumentStatuses.Pending, waiting.Status);
        Assert.Contains("no silo with the embedding role is active", waiting.Waiting);
        var plans = grains.GetGrain<IQueryPlanGrain>("roles");
        var lexical = await plans.Search(new SearchRequest("catalysts", 3, null, null));
        Assert.Equal(["bm25"], lexical.CandidatePlans);
        Assert.Equal(1, (await plans.GetStats()).EmbeddingUnavailable);
        // Placement refuses the embedding grain on a silo without the role, even when asked for it by address.
        var unplaced = await Assert.ThrowsAsync<OrleansException>(() => grains.GetGrain<IEmbeddingGrain>(primary.ToParsableString()).EmbedTokens([[101, 102]], false));
        Assert.Contains("No active nodes are compatible", unplaced.Message);

        // An embedding silo joins: the waiting document is indexed, embedded there and not here.
        var gpu = await cluster.StartSiloAsync();
        await Poll.UntilAsync(async () => (await Status("first")).Status == DocumentStatuses.Indexed, seconds: 60);
        Assert.Null((await Status("first")).Waiting);
        var embedder = await Report(gpu.SiloAddress);
        Assert.True(embedder.Available, embedder.Status);
        Assert.Equal(["embedding"], embedder.Roles);
        Assert.True(embedder.Texts >= 1);
        var here = await Report(primary);
        Assert.False(here.Available);
        Assert.Equal(0, here.Texts);
        Assert.Contains("embedded on the cluster's embedding silos", here.Status);
        // With an embedding silo in the cluster, asking for the grain on this one is still refused, by name.
        var refused = await Assert.ThrowsAsync<SiloUnavailableException>(() => grains.GetGrain<IEmbeddingGrain>(primary.ToParsableString()).EmbedTokens([[101, 102]], false));
        Assert.Contains("that can host", refused.Message);
        await Poll.UntilAsync(async () => (await plans.Search(new SearchRequest("shift reaction", 3, null, null))).CandidatePlans.Contains("vector"), seconds: 30);
        Assert.True((await Report(gpu.SiloAddress)).Texts >= 2); // the query too

        // The last embedding silo leaves: new documents wait again, and the next embedding silo to join indexes them.
        await cluster.StopAsync(gpu);
        await Ingest("second", "Ceria supported gold nanoparticles.");
        await Poll.UntilAsync(async () => (await Status("second")).Waiting is not null, seconds: 60);
        Assert.Equal(DocumentStatuses.Pending, (await Status("second")).Status);
        var next = await cluster.StartSiloAsync();
        await Poll.UntilAsync(async () => (await Status("second")).Status == DocumentStatuses.Indexed, seconds: 60);
        Assert.True((await Report(next.SiloAddress)).Texts >= 1);
        Assert.Equal(0, (await Report(primary)).Texts);
        var found = await plans.Search(new SearchRequest("gold nanoparticles", 3, null, "vector"));
        Assert.Contains(found.Hits, h => h.DocumentId == "second");
        var onPrimary = await grains.GetGrain<Orleans.Runtime.IManagementGrain>(0).GetSimpleGrainStatistics([primary]);
        Assert.DoesNotContain(onPrimary, s => s.GrainType.Contains("EmbeddingGrain", StringComparison.Ordinal));
    }
}
