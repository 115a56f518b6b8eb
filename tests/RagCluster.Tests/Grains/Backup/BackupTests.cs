using RagCluster.Client;
using RagCluster.Tests.Infrastructure;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace RagCluster.Tests.Rag;

/// <summary>`ragcluster backup` / `restore` against a running 3-silo cluster, through the API.</summary>
public sealed class BackupTests(ThreeSiloApiProcess api) : IClassFixture<ThreeSiloApiProcess>, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rc-backup");

    public void Dispose() => _dir.Delete(true);

    private (int Exit, string Out, string Err) Cli(params string[] args) => CliProcess.Run(_dir.FullName,
        new Dictionary<string, string> { ["RAGCLUSTER_URL"] = api.Http.BaseAddress!.ToString(), ["RAGCLUSTER_API_KEY"] = api.AdminKey }, args);

    private RagClusterClient Client => api.Client;

    private async Task<string[]> Hits(string collection, string query, string plan) =>
        (await Client.SearchAsync(collection, new SearchRequest(query) { TopK = 8, Plan = plan })).Hits.Select(h => $"{h.ChunkId} {h.Start}-{h.End} {h.Score:F4}").ToArray();

    [Fact]
    public async Task A_collection_round_trips_through_a_verified_backup_and_a_damaged_one_is_refused_before_writing()
    {
        await Client.CreateCollectionAsync(new("orig") { ShardCount = 3, ChunkMaxTokens = 48, ChunkOverlapTokens = 8 });
        var topics = new[] { "volcano", "glacier", "river", "desert", "forest", "coral reef", "tundra", "savanna", "wetland", "canyon", "prairie", "lagoon" };
        foreach (var (t, i) in topics.Select((t, i) => (t, i)))
        {
            var text = $"# The {t}\n\nThe {t} is a landform studied by geographers; sample {i} describes how the {t} forms over time.\n\n" +
                       $"## Life\n\nMany species live near the {t}. Seasonal change shapes the {t} and the animals and plants around it, year after year.\n\n" +
                       $"## Visiting\n\nTravellers to the {t} should carry water, maps and patience; guides explain the {t}'s history in detail.";
            await Client.IngestAsync("orig", new($"doc-{i}") { Format = "md", Text = text, Tags = new() { ["n"] = (i % 3).ToString() } });
        }
        var ids = Enumerable.Range(0, topics.Length).Select(i => $"doc-{i}").ToList();
        Assert.All((await Client.SettledAsync("orig", ids, seconds: 60)).Values, s => Assert.Equal("indexed", s.Status));

        // A tag change (PATCH) before the backup travels with it, typed.
        var unpatched = (await Client.GetDocumentAsync("orig", "doc-2")).Version;
        Assert.True((await Client.UpdateTagsAsync("orig", "doc-2", new Dictionary<string, object?> { ["n"] = null, ["reviewed"] = true })).Version > unpatched);
        Assert.Equal("indexed", (await Client.SettledAsync("orig", ["doc-2"], seconds: 60))["doc-2"].Status);

        var file = Path.Combine(_dir.FullName, "orig.zip");
        var backup = Cli("backup", "orig", file);
        Assert.True(backup.Exit == 0, backup.Err);
        Assert.Contains("12 documents", backup.Out);
        var restore = Cli("restore", "copy", file);
        Assert.True(restore.Exit == 0, restore.Err);
        Assert.Contains("restored 12 documents", restore.Out);

        var orig = await Client.GetCollectionAsync("orig");
        var copy = await Client.GetCollectionAsync("copy");
        Assert.Equal(orig.Settings, copy.Settings);
        Assert.Equal(orig.DocumentCount, copy.DocumentCount);
        var origIds = await Client.AllDocumentIdsAsync("orig").ToListAsync();
        Assert.Equal(12, origIds.Count);
        Assert.Equal(origIds, await Client.AllDocumentIdsAsync("copy").ToListAsync());
        var (a, b) = (await Client.GetDocumentStatusesAsync("orig", ids), await Client.GetDocumentStatusesAsync("copy", ids));
        Assert.All(b, s => Assert.Equal("indexed", s.Status));
        Assert.Equal(a.Select(s => s.ChunkCount), b.Select(s => s.ChunkCount));
        var (shardsA, shardsB) = (await Client.GetShardStatsAsync("orig"), await Client.GetShardStatsAsync("copy"));
        Assert.Equal(shardsA.Select(s => (s.Chunks, s.Vectors)), shardsB.Select(s => (s.Chunks, s.Vectors)));
        Assert.True(shardsB.Sum(s => s.Vectors) >= 24); // vectors came back, not re-embedded from nothing
        foreach (var q in new[] { "glacier forms over time", "travellers carry water", "species near the coral reef" })
            foreach (var plan in new[] { "bm25", "vector", "hybrid" })
                Assert.Equal(await Hits("orig", q, plan), await Hits("copy", q, plan));
        // Filters still work: tags travelled with the chunks.
        var filtered = await Client.SearchAsync("copy", new SearchRequest("landform") { TopK = 20, Plan = "bm25", Filter = new Dictionary<string, string> { ["n"] = "1" } });
        Assert.NotEmpty(filtered.Hits);
        Assert.All(filtered.Hits, h => Assert.Contains(h.DocumentId, new[] { "doc-1", "doc-4", "doc-7", "doc-10" }));

        var retagged = (await Client.GetDocumentContentsAsync("copy", ["doc-2"])).Single();
        Assert.Equal(["reviewed"], retagged.Tags.Keys);
        Assert.True(retagged.Tags["reviewed"].GetBoolean());
        var reviewed = await Client.SearchAsync("copy", new SearchRequest("landform") { TopK = 20, Plan = "bm25", Filter = new { reviewed = true } });
        Assert.Equal(["doc-2"], reviewed.Hits.Select(h => h.DocumentId).Distinct());

        // Restoring over an existing collection is refused.
        var again = Cli("restore", "copy", file);
        Assert.Equal(1, again.Exit);
        Assert.Contains("already exists", again.Err);

        // One changed character in chunks.jsonl: the manifest checksum catches it and nothing is written.
        var damaged = Path.Combine(_dir.FullName, "damaged.zip");
        File.Copy(file, damaged);
        using (var zip = ZipFile.Open(damaged, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("chunks.jsonl")!;
            string text;
            using (var r = new StreamReader(entry.Open())) text = r.ReadToEnd();
            entry.Delete();
            using var w = new StreamWriter(zip.CreateEntry("chunks.jsonl").Open());
            w.Write(text.Replace("glacier", "glaciex"));
        }
        var refused = Cli("restore", "copy2", damaged);
        Assert.Equal(1, refused.Exit);
        Assert.Contains("chunks.jsonl fails its checksum", refused.Err);
        // The server checks too (the CLI's own check is only a shortcut): upload the damaged file directly.
        using (var content = new ByteArrayContent(await File.ReadAllBytesAsync(damaged)))
        {
            var r = await api.Http.PostAsync("v1/restore/copy2", content);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Contains("fails its checksum", await r.Content.ReadAsStringAsync());
        }
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<RagClusterException>(() => Client.GetCollectionAsync("copy2"))).StatusCode);
        // The copy can go again: drop deletes it with its documents, and the name is free.
        var dropped = Cli("drop", "copy");
        Assert.True(dropped.Exit == 0, dropped.Err);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<RagClusterException>(() => Client.GetCollectionAsync("copy"))).StatusCode);
        Assert.Equal(0, Cli("restore", "copy", file).Exit);
        Assert.Equal(await Hits("orig", "glacier forms over time", "bm25"), await Hits("copy", "glacier forms over time", "bm25"));
        var notZip = Path.Combine(_dir.FullName, "not.zip");
        await File.WriteAllTextAsync(notZip, "hello");
        Assert.Contains("not a RagCluster backup", Cli("restore", "copy3", notZip).Err);
    }
}
