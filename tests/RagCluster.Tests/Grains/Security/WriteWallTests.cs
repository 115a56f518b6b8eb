using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.VectorData;
using ModelContextProtocol.Client;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;
using RagCluster.VectorData;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Issue 83: the access wall on writes. A writer of group eng sends documents under the ids of HR documents it cannot
/// see, through every door that writes (one JSON document, a file upload, a batch by the bulk paths and by the
/// document's grain, MCP add_documents, a VectorData upsert, a tags PATCH, a delete): each is refused and the HR
/// documents stay as they were, byte for byte; the same writer replaces its own documents as before.
/// </summary>
public sealed class WriteWallTests(TestClusterApi api) : IClassFixture<TestClusterApi>
{
    public sealed class Note
    {
        [VectorStoreKey] public string Id { get; set; } = "";
        [VectorStoreData] public string Text { get; set; } = "";
        [VectorStoreData(StorageName = "acl")] public string[] Acl { get; set; } = [];
        [VectorStoreVector(4)] public ReadOnlyMemory<float> Embedding { get; set; }
    }

    [Fact]
    public async Task A_writer_cannot_replace_retag_or_delete_a_document_it_cannot_see_through_any_door()
    {
        using var admin = Http(api.AdminKey);
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("v1/collections", new { name = "wall", accessField = "acl" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("v1/collections", new { name = "wallvec", dimensions = 4, accessField = "acl" })).StatusCode);
        // hr-a by its grain (one document), hr-b by the bulk text path, hr-v by the bulk own-vector path; eng-a the control.
        Assert.Equal(HttpStatusCode.Accepted, (await admin.PostAsJsonAsync("v1/collections/wall/documents", new { id = "hr-a", text = "salaries of the people team", tags = new { acl = new[] { "hr" } } })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await admin.PostAsJsonAsync("v1/collections/wall/documents", new { documents = new object[]
        {
            new { id = "hr-b", text = "payroll calendar of the people team", tags = new { acl = new[] { "hr" } } },
            new { id = "eng-a", text = "deploy guide", tags = new { acl = new[] { "eng" } } },
        } })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await admin.PostAsJsonAsync("v1/collections/wallvec/documents", new { documents = new[]
        {
            new { id = "hr-v", tags = new { acl = new[] { "hr" } }, chunks = new[] { new { text = "hr vector", vector = new[] { 1f, 0, 0, 0 } } } },
        } })).StatusCode);
        await Poll.UntilAsync(async () => await Indexed(admin, "wall", "hr-a", "hr-b", "eng-a") && await Indexed(admin, "wallvec", "hr-v"), seconds: 120);
        var before = await Contents(admin);

        var writer = await api.NewClient().CreateKeyAsync(new CreateKeyRequest("writer") { Groups = ["eng"] });
        using var eng = Http(writer.Key!);
        // One document, as JSON and as a file.
        Assert.Equal(HttpStatusCode.Conflict, (await eng.PostAsJsonAsync("v1/collections/wall/documents", new { id = "hr-a", text = "eng's text now", tags = new { acl = new[] { "eng" } } })).StatusCode);
        using (var form = new MultipartFormDataContent { { new ByteArrayContent("eng's file"u8.ToArray()), "file", "hr-a.txt" }, { new StringContent("hr-a"), "id" } })
            Assert.Equal(HttpStatusCode.Conflict, (await eng.PostAsync("v1/collections/wall/documents", form)).StatusCode);
        // A batch: hr-b sent again exactly as it is (whether it is the same is none of eng's business), hr-a by its grain, a new one beside them.
        var batch = await eng.PostAsJsonAsync("v1/collections/wall/documents", new { documents = new object[]
        {
            new { id = "hr-b", text = "payroll calendar of the people team", tags = new { acl = new[] { "hr" } } },
            new { id = "hr-a", text = "eng's batch text", tags = new { acl = new[] { "eng" } } },
            new { id = "eng-b", text = "eng's new runbook", tags = new { acl = new[] { "eng" } } },
        } });
        var items = (await batch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("documents").EnumerateArray().ToList();
        Assert.Equal([409, 409], items.Take(2).Select(i => i.GetProperty("error").GetProperty("status").GetInt32()));
        Assert.Contains("is taken", items[0].GetProperty("error").GetProperty("detail").GetString());
        Assert.NotEqual("rejected", items[2].GetProperty("status").GetString());
        // MCP add_documents.
        await using (var mcp = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(api.Url, "mcp"), TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["X-Api-Key"] = writer.Key! },
        })))
        {
            var added = await mcp.CallToolAsync("add_documents", new Dictionary<string, object?>
            {
                ["collection"] = "wall", ["documents"] = new[] { new { id = "hr-b", text = "eng's words", tags = new { acl = new[] { "eng" } } } },
            });
            var item = added.StructuredContent!.Value.GetProperty("documents")[0];
            Assert.Equal(("rejected", 409), (item.GetProperty("status").GetString(), item.GetProperty("error").GetProperty("status").GetInt32()));
        }
        // The VectorData connector, through the client.
        using (var store = new RagClusterVectorStore(new RagClusterClient(api.Url, writer.Key!)))
        {
            var notes = store.GetCollection<string, Note>("wallvec");
            var refused = await Assert.ThrowsAsync<VectorStoreException>(() => notes.UpsertAsync(new Note { Id = "hr-v", Text = "eng's", Acl = ["eng"], Embedding = new[] { 0f, 1, 0, 0 } }));
            Assert.Contains("is taken", refused.Message);
            await notes.UpsertAsync(new Note { Id = "eng-v", Text = "eng's own", Acl = ["eng"], Embedding = new[] { 0f, 1, 0, 0 } }); // the control
        }
        // A tags PATCH and a delete find none (the grain path and a bulk-written one).
        Assert.Equal(HttpStatusCode.NotFound, (await eng.PatchAsJsonAsync("v1/collections/wall/documents/hr-a", new { tags = new { acl = new[] { "eng" } } })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await eng.DeleteAsync("v1/collections/wall/documents/hr-b")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await eng.DeleteAsync("v1/collections/wallvec/documents/hr-v")).StatusCode);

        // Nothing of HR's changed; eng's own document is eng's to replace.
        Assert.Equal(before, await Contents(admin));
        Assert.Equal(HttpStatusCode.Accepted, (await eng.PostAsJsonAsync("v1/collections/wall/documents", new { id = "eng-a", text = "deploy guide, second edition", tags = new { acl = new[] { "eng" } } })).StatusCode);
    }

    private HttpClient Http(string key)
    {
        var http = new HttpClient { BaseAddress = api.Url };
        http.DefaultRequestHeaders.Add("X-Api-Key", key);
        return http;
    }

    private static async Task<bool> Indexed(HttpClient admin, string collection, params string[] ids) =>
        (await (await admin.PostAsJsonAsync($"v1/collections/{collection}/documents/statuses", new { ids })).Content.ReadFromJsonAsync<JsonElement>())
        .GetProperty("documents").EnumerateArray().All(d => d.GetProperty("status").GetString() == "indexed");

    /// <summary>HR's documents as the index holds them (versions, tags and chunks), as text to compare.</summary>
    private static async Task<string> Contents(HttpClient admin) =>
        await (await admin.PostAsJsonAsync("v1/collections/wall/documents/contents", new { ids = new[] { "hr-a", "hr-b" } })).Content.ReadAsStringAsync()
        + await (await admin.PostAsJsonAsync("v1/collections/wallvec/documents/contents", new { ids = new[] { "hr-v" }, includeVectors = true })).Content.ReadAsStringAsync()
        + await (await admin.PostAsJsonAsync("v1/collections/wall/documents/statuses", new { ids = new[] { "hr-a", "hr-b" } })).Content.ReadAsStringAsync();
}
