using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Api;

/// <summary>
/// Issue 84, item 2: the model loads with the first text to embed. An API that has served only its callers' own vectors
/// has not loaded it (readiness and /v1/embedding say so, and it is ready); a text search then loads it and is answered.
/// </summary>
public sealed class ModelOnFirstUseTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    [Fact]
    public async Task Own_vectors_leave_the_model_unloaded_and_the_first_text_search_loads_it()
    {
        Assert.Contains(api.Output, l => l.Contains("Start-up: model left to its first use"));
        Assert.Equal(("not loaded yet", false), await ModelStateAsync());

        await api.Client.EnsureCollectionAsync(new("own") { Dimensions = 3 });
        (await api.Http.PostAsJsonAsync("v1/collections/own/documents", new
        {
            documents = new[] { new { id = "x", chunks = new[] { new { vector = new[] { 1f, 0, 0 } } } }, new { id = "y", chunks = new[] { new { vector = new[] { 0f, 1, 0 } } } } },
        })).EnsureSuccessStatusCode();
        await api.Client.SettledAsync("own", ["x", "y"]);
        var hit = await api.Http.PostAsJsonAsync("v1/collections/own/search", new { vector = new[] { 0.9f, 0.1f, 0 }, topK = 1 });
        Assert.Equal("x", (await hit.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("hits")[0].GetProperty("documentId").GetString());
        Assert.Equal(("not loaded yet", false), await ModelStateAsync());

        var reply = await api.Client.SearchAsync("docs", new SearchRequest("green tea") { TopK = 1 });
        Assert.Contains("vector", reply.CandidatePlans); // the text search ran with the model, which it loaded
        Assert.Equal(("loaded", true), await ModelStateAsync());
    }

    // Readiness's model check and whether /v1/embedding says this silo has the model in memory.
    private async Task<(string Check, bool Loaded)> ModelStateAsync()
    {
        var ready = await api.Http.GetFromJsonAsync<JsonElement>("health/ready");
        Assert.Equal("ready", ready.GetProperty("status").GetString());
        var embedding = await api.Http.GetFromJsonAsync<JsonElement>("v1/embedding");
        return (ready.GetProperty("checks").GetProperty("model").GetString()!, embedding.GetProperty("silos")[0].GetProperty("loaded").GetBoolean());
    }
}
