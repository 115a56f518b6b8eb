using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Metadata;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// A shard's planner (issue 82): a reader's access groups walk their own graphs, a range walks two hops, a few matches
/// are compared exactly; each against brute force over what the filter keeps, before and after tag PATCHes move
/// documents between groups and deletes; float32 and int8.
/// </summary>
public sealed class ValueLinkShardTests
{
    private const int Dims = 32, Docs = 3000;

    [Theory]
    [InlineData("float32")]
    [InlineData("int8")]
    public async Task Each_filter_walks_as_the_planner_chooses_and_finds_what_brute_force_finds(string quantization)
    {
        // Threshold 100: a group of ~300 chunks is walked, not scanned.
        var settings = new Dictionary<string, string?> { ["Embedding:ModelDirectory"] = RepoPaths.TestModel, ["Hnsw:ExactSearchThreshold"] = "100" };
        var serviceId = "links-" + Guid.NewGuid().ToString("N")[..6];
        await using var cluster = await RagTestCluster.StartAsync(1, null, settings, serviceId);
        var collection = $"links-{quantization}";
        var created = await cluster.Grains.GetGrain<ICollectionGrain>(collection).Create(new CollectionSettings(1, 256, 0)
        {
            Dimensions = Dims, Quantization = quantization, AccessField = "acl",
            Fields = new() { ["kind"] = "string" }, GraphLinks = ["kind"], // a keyword linked as the access field is
        });
        var shardKey = created.Layout.ShardKey(collection, 0);
        var shard = cluster.Grains.GetGrain<IIndexShardGrain>(shardKey);
        var rng = new Random(82);
        var vectors = Enumerable.Range(0, Docs).Select(_ => Enumerable.Range(0, Dims).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray()).ToArray();
        var group = Enumerable.Range(0, Docs).Select(_ => rng.Next(10)).ToArray();
        var live = Enumerable.Repeat(true, Docs).ToArray();
        for (var start = 0; start < Docs; start += 500)
            await shard.UpsertMany(Enumerable.Range(start, 500).Select(d => new ShardUpsert($"d{d}", 1,
                [new ChunkRecord($"d{d}#0", $"d{d}", 0, 0, 1, $"text {d}", [], StoredTags(d), vectors[d])])).ToArray());

        Dictionary<string, string> StoredTags(int d) => RagCluster.Metadata.TagRules.FromJson(new Dictionary<string, System.Text.Json.JsonElement>
        {
            ["acl"] = System.Text.Json.JsonSerializer.SerializeToElement(new[] { $"g{group[d]}" }),
            ["n"] = System.Text.Json.JsonSerializer.SerializeToElement(d),
            ["kind"] = System.Text.Json.JsonSerializer.SerializeToElement($"k{d % 5}"),
        }, null).Stored!;

        async Task Check(string filter, Func<int, bool> keeps, string walk)
        {
            var (hits, wanted) = (0, 0);
            for (var q = 0; q < 20; q++)
            {
                var query = Enumerable.Range(0, Dims).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
                var truth = Enumerable.Range(0, Docs).Where(d => live[d] && keeps(d)).OrderByDescending(d => Cosine(query, vectors[d])).Take(10).Select(d => $"d{d}#0").ToHashSet();
                var result = await shard.Search(new ShardQuery(query, null, 10, 64, FilterParser.ParseCanonical(filter)));
                Assert.Equal(walk, result.Walk);
                Assert.All(result.Dense, h => Assert.True(keeps(int.Parse(h.DocumentId[1..])) && live[int.Parse(h.DocumentId[1..])], $"{filter}: {h.DocumentId} is not kept"));
                hits += result.Dense.Count(h => truth.Contains(h.ChunkId));
                wanted += truth.Count;
            }
            Assert.True(hits >= 0.9 * wanted, $"{filter} ({walk}): recall@10 {hits / (double)wanted:F3}");
        }

        await Check("""{"acl":{"$containsAny":["g3"]}}""", d => group[d] == 3, "value-links");
        await Check("""{"acl":{"$containsAny":["g1","g7"]}}""", d => group[d] is 1 or 7, "value-links");
        await Check("""{"n":{"$lt":1500}}""", d => d < 1500, "two-hop");
        await Check("""{"kind":"k2"}""", d => d % 5 == 2, "value-links");
        await Check("""{"kind":{"$in":["k1","k3"]},"acl":{"$containsAny":["g1","g2","g3","g4","g5","g6"]}}""", d => d % 5 is 1 or 3 && group[d] is >= 1 and <= 6, "value-links");
        await Check("""{"acl":"g2","n":{"$lt":60}}""", d => group[d] == 2 && d < 60, "exact");
        Assert.Equal("graph", (await shard.Search(new ShardQuery(vectors[0], null, 10, 64, null))).Walk);

        // Tag PATCHes move 200 documents from their group to g3, and 100 documents are deleted: the walks follow.
        var version = 2L;
        foreach (var d in Enumerable.Range(0, Docs).Where(d => group[d] != 3).Take(200).ToList())
        {
            group[d] = 3;
            await shard.Retag($"d{d}", version, StoredTags(d));
        }
        foreach (var d in Enumerable.Range(0, Docs).Where(d => d % 30 == 7))
        {
            live[d] = false;
            await shard.RemoveDocument($"d{d}", version + 1); // after a retag at version 2
        }
        await Check("""{"acl":{"$containsAny":["g3"]}}""", d => group[d] == 3, "value-links");
        await Check("""{"acl":{"$containsAny":["g0","g5"]}}""", d => group[d] is 0 or 5, "value-links");
        await Check("""{"n":{"$gte":1000}}""", d => d >= 1000, "two-hop");

        // A crash: another cluster restores the shard from its snapshot (the values' graphs are in it) and its log tail.
        await cluster.KillAsync(cluster.Cluster.Primary!);
        await using var second = await RagTestCluster.StartAsync(1, cluster.Storage, settings, serviceId);
        shard = second.Grains.GetGrain<IIndexShardGrain>(shardKey);
        await Check("""{"acl":{"$containsAny":["g3"]}}""", d => group[d] == 3, "value-links");
        await Check("""{"kind":{"$in":["k0","k4"]}}""", d => live[d] && d % 5 is 0 or 4, "value-links");

        // A shard past Hnsw:LinkedWalkMaxVectors walks as before issue 82, measuring every node it meets (no exact scan here).
        await second.KillAsync(second.Cluster.Primary!);
        await using var third = await RagTestCluster.StartAsync(1, cluster.Storage,
            new Dictionary<string, string?>(settings) { ["Hnsw:LinkedWalkMaxVectors"] = "1000", ["Hnsw:ExactSearchThreshold"] = "0" }, serviceId);
        shard = third.Grains.GetGrain<IIndexShardGrain>(shardKey);
        await Check("""{"acl":{"$containsAny":["g3"]}}""", d => group[d] == 3, "measure-all");
        await Check("""{"n":{"$gte":1000}}""", d => live[d] && d >= 1000, "measure-all");
    }

    private static float Cosine(float[] a, float[] b) =>
        a.Zip(b, (x, y) => x * y).Sum() / MathF.Sqrt(a.Sum(x => x * x) * b.Sum(x => x * x));
}
