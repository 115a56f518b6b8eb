using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>Results shaped as users ask: documents instead of chunks (groupBy), a score threshold, and pages (offset) in one stable order.</summary>
public sealed class SearchShapeTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    // Document d's chunk c points a little further from the query the larger d and c: every score is known in order.
    private static float[] Vector(int d, int c) => [1, d * 0.2f + c * 0.05f, 0, 0];

    private static double Cosine(int d, int c)
    {
        var v = Vector(d, c);
        return v[0] / Math.Sqrt(v[0] * v[0] + v[1] * v[1]);
    }

    [Fact]
    public async Task Groups_thresholds_and_pages()
    {
        var client = api.Client;
        await client.EnsureCollectionAsync(new("shapes") { Dimensions = 4, ShardCount = 2 });
        await client.IngestBatchAsync("shapes", Enumerable.Range(0, 8).Select(d => new DocumentInput($"d{d}")
        {
            Chunks = Enumerable.Range(0, 3).Select(c => new ChunkInput($"doc {d} chunk {c}") { Vector = Vector(d, c) }).ToList(),
        }).ToList());
        await client.SettledAsync("shapes", Enumerable.Range(0, 8).Select(d => $"d{d}").ToArray());
        Task<SearchReply> Search(int topK, Func<SearchRequest, SearchRequest>? shape = null) =>
            client.SearchAsync("shapes", (shape ?? (r => r))(new SearchRequest(null) { Vector = [1, 0, 0, 0], TopK = topK, Plan = "vector" }));

        // Chunks crowd by document: the top 4 chunks come from d0 and d1 (d0#0 .. d0#2, d1#0 at 0.2 ≈ d0#... in order).
        var chunks = await Search(6);
        Assert.Null(chunks.Groups);
        Assert.True(chunks.Hits.Zip(chunks.Hits.Skip(1)).All(p => p.First.Score >= p.Second.Score));

        // Grouped: 3 documents, each with its 2 best chunks, scored by its best chunk.
        var grouped = await Search(3, r => r with { GroupBy = "document", GroupSize = 2 });
        Assert.Equal(["d0", "d1", "d2"], grouped.Groups!.Select(g => g.DocumentId));
        Assert.All(grouped.Groups!, g => Assert.Equal([$"{g.DocumentId}#0", $"{g.DocumentId}#1"], g.Hits.Select(h => h.ChunkId)));
        Assert.Equal(Cosine(1, 0), grouped.Groups![1].Score, 4);
        Assert.Equal(grouped.Groups!.SelectMany(g => g.Hits).Select(h => h.ChunkId), grouped.Hits.Select(h => h.ChunkId));

        // A threshold on the plan's score (cosine similarity for vector): only the chunks at or above it.
        var threshold = Cosine(1, 1);
        var above = await Search(50, r => r with { ScoreThreshold = threshold - 1e-6 });
        Assert.Equal(Enumerable.Range(0, 8).SelectMany(d => Enumerable.Range(0, 3).Select(c => (d, c))).Count(x => Cosine(x.d, x.c) >= threshold - 1e-6), above.Hits.Length);
        Assert.All(above.Hits, h => Assert.True(h.Score >= threshold - 1e-6));

        // Pages: three pages of 5 are the first 15 of one ranking, without a gap or a repeat; grouped pages too.
        var pages = new List<string>();
        for (var offset = 0; offset < 15; offset += 5) pages.AddRange((await Search(5, r => r with { Offset = offset })).Hits.Select(h => h.ChunkId));
        Assert.Equal((await Search(15, r => r with { Offset = 0 })).Hits.Select(h => h.ChunkId), pages);
        Assert.Equal(15, pages.Distinct().Count());
        var second = await Search(3, r => r with { GroupBy = "document", Offset = 3 });
        Assert.Equal(["d3", "d4", "d5"], second.Groups!.Select(g => g.DocumentId));

        // Bad shapes are 400s that say what.
        foreach (var (body, detail) in new[]
        {
            ("""{"vector":[1,0,0,0],"groupSize":2}""", "groupSize must be 1..10, with groupBy"),
            ("""{"vector":[1,0,0,0],"groupBy":"tenant"}""", "groupBy must be \"document\" (or left out), not 'tenant'"),
            ("""{"vector":[1,0,0,0],"topK":100,"offset":901}""", "offset must be 0 or more, and offset + topK at most 1000"),
        })
        {
            var response = await api.Http.PostAsync("v1/collections/shapes/search", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(detail, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        }
    }
}
