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

    private async Task<string[]> Hits(string collection, string query, string plan)
    {
        var r = await api.Http.PostAsJsonAsync($"v1/collections/{collection}/search", new { query, topK = 8, plan });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("hits").EnumerateArray()
            .Select(h => $"{h.GetProperty("chunkId").GetString()} {h.GetProperty("start").GetInt32()}-{h.GetProperty("end").GetInt32()} {h.GetProperty("score").GetDouble():F4}").ToArray();
    }

    [Fact]
    public async Task A_collection_round_trips_through_a_verified_backup_and_a_damaged_one_is_refused_before_writing()
    {
        Assert.Equal(HttpStatusCode.Created, (await api.Http.PostAsJsonAsync("v1/collections", new { name = "orig", shardCount = 3, chunkMaxTokens = 48, chunkOverlapTokens = 8 })).StatusCode);
        var topics = new[] { "volcano", "glacier", "river", "desert", "forest", "coral reef", "tundra", "savanna", "wetland", "canyon", "prairie", "lagoon" };
        foreach (var (t, i) in topics.Select((t, i) => (t, i)))
        {
            var text = $"# The {t}\n\nThe {t} is a landform studied by geographers; sample {i} describes how the {t} forms over time.\n\n" +
                       $"## Life\n\nMany species live near the {t}. Seasonal change shapes the {t} and the animals and plants around it, year after year.\n\n" +
                       $"## Visiting\n\nTravellers to the {t} should carry water, maps and patience; guides explain the {t}'s history in detail.";
            Assert.Equal(HttpStatusCode.Accepted, (await api.Http.PostAsJsonAsync("v1/collections/orig/documents", new { id = $"doc-{i}", format = "md", text, tags = new { n = (i % 3).ToString() } })).StatusCode);
        }
        foreach (var i in Enumerable.Range(0, topics.Length))
            for (var tries = 0; ; tries++)
            {
                var s = await api.Http.GetFromJsonAsync<JsonElement>($"v1/collections/orig/documents/doc-{i}");
                if (s.GetProperty("status").GetString() == "indexed") break;
                Assert.True(tries < 600, $"doc-{i} not indexed");
                await Task.Delay(100);
            }

        var file = Path.Combine(_dir.FullName, "orig.zip");
        var backup = Cli("backup", "orig", file);
        Assert.True(backup.Exit == 0, backup.Err);
        Assert.Contains("12 documents", backup.Out);
        var restore = Cli("restore", "copy", file);
        Assert.True(restore.Exit == 0, restore.Err);
        Assert.Contains("restored 12 documents", restore.Out);

        var orig = await api.Http.GetFromJsonAsync<JsonElement>("v1/collections/orig");
        var copy = await api.Http.GetFromJsonAsync<JsonElement>("v1/collections/copy");
        Assert.Equal(orig.GetProperty("settings").ToString(), copy.GetProperty("settings").ToString());
        Assert.Equal(orig.GetProperty("documentCount").GetInt32(), copy.GetProperty("documentCount").GetInt32());
        var origIds = await api.Http.GetFromJsonAsync<JsonElement>("v1/collections/orig/documents");
        var copyIds = await api.Http.GetFromJsonAsync<JsonElement>("v1/collections/copy/documents");
        Assert.Equal(12, origIds.GetProperty("documentIds").GetArrayLength());
        Assert.Equal(origIds.GetProperty("documentIds").ToString(), copyIds.GetProperty("documentIds").ToString());
        foreach (var i in Enumerable.Range(0, topics.Length))
        {
            var a = await api.Http.GetFromJsonAsync<JsonElement>($"v1/collections/orig/documents/doc-{i}");
            var b = await api.Http.GetFromJsonAsync<JsonElement>($"v1/collections/copy/documents/doc-{i}");
            Assert.Equal("indexed", b.GetProperty("status").GetString());
            Assert.Equal(a.GetProperty("chunkCount").GetInt32(), b.GetProperty("chunkCount").GetInt32());
        }
        var shardsA = await api.Http.GetFromJsonAsync<JsonElement[]>("v1/collections/orig/shards");
        var shardsB = await api.Http.GetFromJsonAsync<JsonElement[]>("v1/collections/copy/shards");
        Assert.Equal(shardsA!.Select(s => (s.GetProperty("chunks").GetInt32(), s.GetProperty("vectors").GetInt32())), shardsB!.Select(s => (s.GetProperty("chunks").GetInt32(), s.GetProperty("vectors").GetInt32())));
        Assert.True(shardsB!.Sum(s => s.GetProperty("vectors").GetInt32()) >= 24); // vectors came back, not re-embedded from nothing
        foreach (var q in new[] { "glacier forms over time", "travellers carry water", "species near the coral reef" })
            foreach (var plan in new[] { "bm25", "vector", "hybrid" })
                Assert.Equal(await Hits("orig", q, plan), await Hits("copy", q, plan));
        // Filters still work: tags travelled with the chunks.
        var filtered = await (await api.Http.PostAsJsonAsync("v1/collections/copy/search", new { query = "landform", topK = 20, plan = "bm25", filter = new { n = "1" } })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.All(filtered.GetProperty("hits").EnumerateArray(), h => Assert.Contains(h.GetProperty("documentId").GetString(), new[] { "doc-1", "doc-4", "doc-7", "doc-10" }));

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
        Assert.Equal(HttpStatusCode.NotFound, (await api.Http.GetAsync("v1/collections/copy2")).StatusCode);
        // The copy can go again: drop deletes it with its documents, and the name is free.
        var dropped = Cli("drop", "copy");
        Assert.True(dropped.Exit == 0, dropped.Err);
        Assert.Equal(HttpStatusCode.NotFound, (await api.Http.GetAsync("v1/collections/copy")).StatusCode);
        Assert.Equal(0, Cli("restore", "copy", file).Exit);
        Assert.Equal(await Hits("orig", "glacier forms over time", "bm25"), await Hits("copy", "glacier forms over time", "bm25"));
        var notZip = Path.Combine(_dir.FullName, "not.zip");
        await File.WriteAllTextAsync(notZip, "hello");
        Assert.Contains("not a RagCluster backup", Cli("restore", "copy3", notZip).Err);
    }
}
