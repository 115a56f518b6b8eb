using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.TestingHost;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Metadata;
using RagCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RagCluster.Tests.Rag;

/// <summary>Shard copies (issue 46): a collection's replicationFactor on a 3-silo TestCluster.</summary>
public sealed class ShardCopyTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Embedding:ModelDirectory"] = RepoPaths.TestModel,
        ["Query:HedgeAfterMs"] = "20",
    };

    /// <summary>A collection of 4 shards with this many copies each, holding 24 indexed documents; its shards' keys.</summary>
    private static async Task<string[]> AddCollectionAsync(RagTestCluster cluster, string collection, int copies)
    {
        var created = await cluster.Grains.GetGrain<ICollectionGrain>(collection).Create(new CollectionSettings(4, 256, 32) { ReplicationFactor = copies });
        await IngestAsync(cluster.Grains, collection, 24);
        return [.. created.Layout.ShardKeys(collection)];
    }

    private static async Task IngestAsync(IGrainFactory grains, string collection, int documents)
    {
        await Task.WhenAll(Enumerable.Range(0, documents).Select(i => grains.GetGrain<IDocumentGrain>($"{collection}/d{i}").Ingest(
            new IngestRequest("txt", Encoding.UTF8.GetBytes($"Document {i} tells of topic {i % 7}: " + string.Join(' ', Enumerable.Range(0, 30).Select(w => $"word{(i * 13 + w) % 211}"))), [], null))));
        await Poll.UntilAsync(async () => (await Task.WhenAll(Enumerable.Range(0, documents).Select(i => grains.GetGrain<IDocumentGrain>($"{collection}/d{i}").GetStatus())))
            .All(s => s.Status == DocumentStatuses.Indexed), 60);
    }

    private static async Task<ShardStats[]> CopiesAsync(IGrainFactory grains, string shardKey, int copies) =>
        await Task.WhenAll(Enumerable.Range(0, copies).Select(c => grains.GetGrain<IIndexShardGrain>(ShardLayout.CopyKey(shardKey, c)).GetStats()));

    [Fact]
    public async Task Copies_sit_on_distinct_silos_follow_their_primary_and_answer_as_it_does()
    {
        await using var cluster = await RagTestCluster.StartAsync(3, settings: Settings);
        var shards = await AddCollectionAsync(cluster, "rep", 3);
        var grains = cluster.Grains;

        // Every copy holds what its primary holds once it has caught up (pushed with each write, or read from the log).
        await Poll.UntilAsync(async () =>
        {
            foreach (var shard in shards)
            {
                var copies = await CopiesAsync(grains, shard, 3);
                if (copies.Any(c => c.LogPosition != copies[0].LogPosition || c.Chunks != copies[0].Chunks)) return false;
            }
            return true;
        });
        foreach (var shard in shards)
        {
            var copies = await CopiesAsync(grains, shard, 3);
            output.WriteLine($"{shard}: {string.Join(", ", copies.Select(c => $"copy {c.Copy} on {c.Silo}: {c.Chunks} chunks, log {c.LogPosition}"))}");
            Assert.Equal([0, 1, 2], copies.Select(c => c.Copy));
            Assert.Equal(3, copies.Select(c => c.Silo).Distinct().Count()); // three copies, three silos
            Assert.True(copies[0].Chunks > 0);
        }

        // A tag change (PATCH) reaches every copy: the primary logs the tags alone and each follower applies that entry.
        var retag = await grains.GetGrain<IDocumentGrain>("rep/d3").UpdateTags(new() { ["reviewed"] = "yes", ["lang"] = null });
        await Poll.UntilAsync(async () => (await grains.GetGrain<IDocumentGrain>("rep/d3").GetStatus()) is { Status: DocumentStatuses.Indexed } s && s.Version == retag.Version, 60);
        await Poll.UntilAsync(async () => (await Task.WhenAll(shards.Select(s => CopiesAsync(grains, s, 3)))).All(c => c.All(x => x.LogPosition == c[0].LogPosition)));
        var reviewed = await Task.WhenAll(shards.Select(shard => Task.WhenAll(Enumerable.Range(0, 3).Select(c =>
            grains.GetGrain<IIndexShardGrain>(ShardLayout.CopyKey(shard, c)).MatchingDocuments(FilterParser.ParseCanonical("""{"reviewed":"yes"}""")!, null, 100)))));
        Assert.Equal(["d3"], reviewed.SelectMany(copies => copies[0]).Distinct());
        Assert.All(reviewed, copies => Assert.All(copies, c => Assert.Equal(copies[0], c)));

        // A follower answers what its primary answers, and writes go to the primary only.
        var query = new ShardQuery(null, "topic 3 word17", 10, 0, null);
        foreach (var shard in shards)
        {
            var primary = await grains.GetGrain<IIndexShardGrain>(shard).Search(query);
            var follower = await grains.GetGrain<IIndexShardGrain>(ShardLayout.CopyKey(shard, 2)).Search(query);
            Assert.Equal(primary.Lexical.Select(h => h.ChunkId), follower.Lexical.Select(h => h.ChunkId));
            Assert.Equal(2, follower.Copy);
        }
        await Assert.ThrowsAsync<RagCluster.Grains.Interfaces.Errors.InvalidRequestException>(() =>
            grains.GetGrain<IIndexShardGrain>(ShardLayout.CopyKey(shards[0], 1)).Upsert("x", 1, []));

        // Searches through the plan read the copies in turn: the same answer whichever copies answered.
        var plans = grains.GetGrain<IQueryPlanGrain>("rep");
        var byPrimary = await plans.Search(new SearchRequest("topic 3 word17", 10, null, "bm25") { Consistency = "primary" });
        for (var i = 0; i < 6; i++)
            Assert.Equal(byPrimary.Hits.Select(h => h.ChunkId), (await plans.Search(new SearchRequest("topic 3 word17 " + new string(' ', i), 10, null, "bm25"))).Hits.Select(h => h.ChunkId));
    }

    [Fact]
    public async Task With_two_copies_a_silo_killed_under_search_load_fails_no_search()
    {
        await using var cluster = await RagTestCluster.StartAsync(3, settings: Settings);
        var grains = cluster.Grains;
        var management = grains.GetGrain<IManagementGrain>(0);
        // The victim holds shard copies and the collection's grain (the plan answers from the settings it read last
        // until that grain is placed again). Orleans places that grain anywhere, so collections are made until one lands
        // on a silo other than the primary, where the plan runs (a stateless worker on the silo that asks).
        SiloHandle? victim = null;
        IQueryPlanGrain plans = null!;
        for (var attempt = 0; victim is null; attempt++)
        {
            Assert.True(attempt < 15, "in 15 collections none had its grain on a silo holding copies other than the primary");
            var name = $"ha{attempt}";
            var shards = await AddCollectionAsync(cluster, name, 2);
            await Poll.UntilAsync(async () => (await Task.WhenAll(shards.Select(s => CopiesAsync(grains, s, 2)))).All(c => c[1].LogPosition == c[0].LogPosition));
            // Searches come from the primary silo, as from the API silo: the test's own client would also lose the
            // victim's gateway, which no server-side copy can cover.
            plans = ((InProcessSiloHandle)cluster.Cluster.Primary).SiloHost.Services.GetRequiredService<IGrainFactory>().GetGrain<IQueryPlanGrain>(name);
            await plans.Search(new SearchRequest("topic 1", 10, null, "bm25")); // activated now, so that its silo is known
            var collectionSilo = (await management.GetActivationAddress(grains.GetGrain<ICollectionGrain>(name)))?.ToString();
            var copySilos = (await Task.WhenAll(shards.Select(s => CopiesAsync(grains, s, 2)))).SelectMany(c => c).Select(c => c.Silo).ToHashSet();
            // The plan is a stateless worker on the silo that asks (the primary), so the victim never holds it.
            victim = cluster.Cluster.Silos.FirstOrDefault(s => s != cluster.Cluster.Primary && s.SiloAddress.ToString() == collectionSilo
                && copySilos.Contains(collectionSilo));
        }

        // A new query each time (the cache would answer a repeat without asking a shard).
        var load = new SearchLoad(plans, n => new SearchRequest($"topic {n % 7} word{n % 211}", 10, null, "bm25"));
        await Poll.UntilAsync(() => Task.FromResult(load.Searches > 50));
        var before = load.Searches;
        await cluster.KillAsync(victim);
        await Poll.UntilAsync(() => Task.FromResult(load.Searches > before + 200), 60);
        await load.DisposeAsync();
        output.WriteLine($"{load.Searches} searches, {load.Failures.Count} failed: {string.Join(" | ", load.Failures.Distinct().Take(5))}");
        Assert.Empty(load.Failures);
    }

    /// <summary>Searches through a plan without pause until disposed: how many were answered, and what failed or found nothing.</summary>
    private sealed class SearchLoad : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _running;
        private int _searches;

        public SearchLoad(IQueryPlanGrain plans, Func<int, SearchRequest> query) => _running = Task.Run(async () =>
        {
            for (var n = 0; !_stop.IsCancellationRequested; n++)
            {
                try
                {
                    if ((await plans.Search(query(n))).Hits.Length == 0) lock (Failures) Failures.Add("a search found nothing");
                    Interlocked.Increment(ref _searches);
                }
                catch (Exception e)
                {
                    lock (Failures) Failures.Add($"{e.GetType().Name}: {e.Message.Split('\n')[0]}");
                }
            }
        });

        public List<string> Failures { get; } = [];
        public int Searches => Volatile.Read(ref _searches);

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            await _running;
        }
    }

    [Fact]
    public async Task A_reshard_with_copies_loses_no_search_and_the_new_shards_get_their_copies()
    {
        await using var cluster = await RagTestCluster.StartAsync(2, settings: Settings);
        var grains = cluster.Grains;
        var collection = grains.GetGrain<ICollectionGrain>("rs");
        await collection.Create(new CollectionSettings(2, 256, 32) { ReplicationFactor = 2 });
        await IngestAsync(grains, "rs", 120);
        var plans = grains.GetGrain<IQueryPlanGrain>("rs");

        // Searches go on, over the copies, while 2 shards become 3.
        var load = new SearchLoad(plans, n => new SearchRequest($"topic {n % 7} word{n % 211}", 10, null, "bm25"));
        await collection.Configure(new CollectionSettings(3, 256, 32) { ReplicationFactor = 2 });
        await Poll.UntilAsync(async () => (await collection.GetInfo()) is { Resharding: null, Settings.ShardCount: 3 }, 120);
        var shards = (await collection.GetSettings()).Layout.ShardKeys("rs").ToArray();
        // Each new shard has a follower on the other silo that holds what its primary holds.
        await Poll.UntilAsync(async () =>
        {
            foreach (var shard in shards)
                if (await CopiesAsync(grains, shard, 2) is var c && (c[1].LogPosition != c[0].LogPosition || c[1].Chunks != c[0].Chunks || c[0].Silo == c[1].Silo)) return false;
            return true;
        }, 60);
        await load.DisposeAsync();
        output.WriteLine($"{load.Searches} searches during the reshard, {load.Failures.Count} failed: {string.Join(" | ", load.Failures.Distinct().Take(5))}");
        Assert.True(load.Searches > 0);
        Assert.Empty(load.Failures);

        // Every document is still found, and the copies of the new shards answer as their primaries do. (Not as the old
        // layout did: BM25 weighs terms by each shard's own statistics.)
        var copies = await Task.WhenAll(shards.Select(shard => CopiesAsync(grains, shard, 2)));
        Assert.Equal(120, copies.Sum(c => c[0].Documents));
        Assert.All(copies, c => Assert.Equal(c[0].Documents, c[1].Documents));
        var byPrimary = await plans.Search(new SearchRequest("topic 3 word17", 10, null, "bm25") { Consistency = "primary" });
        for (var i = 0; i < 4; i++)
            Assert.Equal(byPrimary.Hits.Select(h => h.ChunkId), (await plans.Search(new SearchRequest("topic 3 word17" + new string(' ', 60 + i), 10, null, "bm25"))).Hits.Select(h => h.ChunkId));
    }

    [Fact]
    public async Task A_copy_behind_its_primary_never_answers_a_primary_or_read_your_writes_search()
    {
        HeldFollowers.Holding = false;
        await using var cluster = await RagTestCluster.StartAsync(2, settings: new(Settings)
        {
            ["Test:HoldableFollowers"] = "true",
            ["Shards:FollowerPoll"] = "00:10:00", // a held follower does not read the log itself within the test
            ["Query:ReadAfterWaitMs"] = "1000",
        });
        var grains = cluster.Grains;
        var created = await grains.GetGrain<ICollectionGrain>("ryw").Create(new CollectionSettings(1, 256, 32) { ReplicationFactor = 2 });
        await IngestAsync(grains, "ryw", 6);
        var shard = created.Layout.ShardKey("ryw", 0);
        await Poll.UntilAsync(async () => (await CopiesAsync(grains, shard, 2)) is var c && c[1].LogPosition == c[0].LogPosition && c[1].Chunks > 0);
        try
        {
            HeldFollowers.Holding = true;
            var written = await grains.GetGrain<IDocumentGrain>("ryw/late").Ingest(new IngestRequest("txt", Encoding.UTF8.GetBytes("a zebra quartz arrives late"), [], null));
            await Poll.UntilAsync(async () => (await grains.GetGrain<IDocumentGrain>("ryw/late").GetStatus()).Status == DocumentStatuses.Indexed, 60);
            var copies = await CopiesAsync(grains, shard, 2);
            Assert.True(copies[1].LogPosition < copies[0].LogPosition, $"the follower should be behind: {copies[1].LogPosition} against {copies[0].LogPosition}");

            // The follower answers a plain query without the new document, and refuses one that needs it.
            var follower = grains.GetGrain<IIndexShardGrain>(ShardLayout.CopyKey(shard, 1));
            Assert.DoesNotContain((await follower.Search(new ShardQuery(null, "zebra quartz", 10, 0, null))).Lexical, h => h.DocumentId == "late");
            await Assert.ThrowsAsync<RagCluster.Grains.Interfaces.Errors.NotYetReadableException>(() =>
                follower.Search(new ShardQuery(null, "zebra quartz", 10, 0, null) { MinVersions = new() { ["late"] = written.Version } }));

            // Through the plan the copies take turns: "any" gets the follower's answer half the time (so this test can
            // fail), while "primary" and read-your-writes searches always find the new document.
            var plans = grains.GetGrain<IQueryPlanGrain>("ryw");
            var missed = 0;
            for (var i = 0; i < 8; i++) // a query of its own each time: no answer comes from a cache
                if ((await plans.Search(new SearchRequest("zebra" + new string(' ', i), 10, null, "bm25"))).Hits.All(h => h.DocumentId != "late")) missed++;
            for (var i = 0; i < 8; i++)
            {
                var spaces = new string(' ', i);
                var primary = await plans.Search(new SearchRequest("quartz" + spaces, 10, null, "bm25") { Consistency = "primary" });
                Assert.Contains(primary.Hits, h => h.DocumentId == "late");
                var mine = await plans.Search(new SearchRequest("zebra quartz" + spaces, 10, null, "bm25") { ReadAfter = new() { ["late"] = written.Version } });
                Assert.Contains(mine.Hits, h => h.DocumentId == "late");
            }
            output.WriteLine($"'any' searches that missed the new document: {missed} of 8");
            Assert.True(missed > 0, "no 'any' search reached the follower that is behind");

            // A version not indexed (yet): a retriable refusal once Query:ReadAfterWaitMs has passed, never an old answer.
            await Assert.ThrowsAsync<RagCluster.Grains.Interfaces.Errors.NotYetReadableException>(() =>
                plans.Search(new SearchRequest("zebra", 10, null, "bm25") { ReadAfter = new() { ["late"] = written.Version + 1 } }));
        }
        finally
        {
            HeldFollowers.Holding = false;
        }
    }
}

/// <summary>replicationFactor over HTTP: bounded by the active silos, changed live, each copy listed with its lag.</summary>
public sealed class ShardCopyApiTests(TestClusterApi api) : IClassFixture<TestClusterApi>
{
    [Fact]
    public async Task The_replication_factor_is_bounded_by_the_silos_changed_live_and_every_copy_is_listed_with_its_lag()
    {
        var client = api.NewClient();
        var tooMany = await Assert.ThrowsAsync<RagCluster.Client.RagClusterException>(() =>
            client.CreateCollectionAsync(new RagCluster.Client.CreateCollectionRequest("copies3") { ShardCount = 2, ReplicationFactor = 3 }));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Contains("2 active silo", tooMany.Detail);

        var created = await client.CreateCollectionAsync(new RagCluster.Client.CreateCollectionRequest("copies") { ShardCount = 2, ReplicationFactor = 2 });
        Assert.Equal(2, created.Settings.ReplicationFactor);
        var accepted = await client.IngestAsync("copies", new RagCluster.Client.DocumentInput("a") { Text = "the copies hold what the primary holds" });
        // Read your writes, straight after the acknowledgement: the search waits for the indexing and a copy that holds it.
        var mine = await client.SearchAsync("copies", new RagCluster.Client.SearchRequest("copies hold") { ReadAfter = new() { ["a"] = accepted.Version } });
        Assert.Equal("a", Assert.Single(mine.Hits).DocumentId);
        await client.WaitForIndexedAsync("copies", ["a"]);
        RagCluster.Client.ShardStats[] shards = [];
        await Poll.UntilAsync(async () => (shards = await client.GetShardStatsAsync("copies")).All(s => s.Copy == 0 || s.Lag == 0));
        Assert.Equal([(0, 0), (0, 1), (1, 0), (1, 1)], shards.Select(s => (s.Shard, s.Copy)));
        Assert.All(shards.GroupBy(s => s.Shard), g => Assert.Equal(2, g.Select(s => s.Silo).Distinct().Count()));
        Assert.Equal(1, shards.Where(s => s.Copy == 1).Sum(s => s.Documents));

        var one = await client.ConfigureCollectionAsync("copies", new RagCluster.Client.ConfigureCollectionRequest { ReplicationFactor = 1 });
        Assert.Equal(1, one.Settings.ReplicationFactor);
        Assert.Equal([0, 0], (await client.GetShardStatsAsync("copies")).Select(s => s.Copy));
        // The copies no longer wanted let their memory go (the collection tells their primaries, which tell them).
        var management = api.Cluster.Grains.GetGrain<Orleans.Runtime.IManagementGrain>(0);
        await Poll.UntilAsync(async () => (await management.GetSimpleGrainStatistics())
            .Where(g => g.GrainType.Contains("IndexShardGrain", StringComparison.Ordinal)).Sum(g => g.ActivationCount) == 2);
        var search = await client.SearchAsync("copies", new RagCluster.Client.SearchRequest("primary holds") { Consistency = "primary" });
        Assert.Equal("a", Assert.Single(search.Hits).DocumentId);
    }
}
