using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Typed tags and the filter language through the HTTP API, end to end: declared fields, documents with every tag type,
/// the filters a team writes (dates, a set of groups, an OR with a NOT) on search, ask, listing and statuses, problems that say where, and
/// a filter that matches everything still never reaching another tenant's documents.
/// </summary>
public sealed class FilterRouteTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    private static readonly string[] Departments = ["hr", "legal", "eng"];

    private static float[] Vector(int i) => [1, i % 3, i % 5, i % 7];

    private static object Policy(int i) => new
    {
        id = $"p{i}",
        tags = new Dictionary<string, object>
        {
            ["dept"] = Departments[i % 3],
            ["published"] = new DateTimeOffset(2022, 1, 1, 0, 0, 0, TimeSpan.FromHours(2)).AddMonths(i * 2),
            ["version"] = i,
            ["draft"] = i % 4 == 0,
            ["groups"] = i % 2 == 0 ? new[] { "staff", "managers" } : new[] { "staff" },
        },
        chunks = new[] { new { text = $"policy number {i} about leave", vector = Vector(i) } },
    };

    private async Task<string[]> Found(HttpClient http, string collection, string filter, string path = "search")
    {
        var body = path == "search" ? $$"""{"vector":[1,1,1,1],"query":"policy","topK":100,"filter":{{filter}}}""" : $$"""{"question":"which policy about leave","topK":100,"filter":{{filter}}}""";
        var response = await http.PostAsync($"v1/collections/{collection}/{path}", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{filter}: {json}");
        var hits = path == "search" ? json.GetProperty("hits") : json.GetProperty("citations");
        return hits.EnumerateArray().Select(h => h.GetProperty("documentId").GetString()!).Distinct().Order(StringComparer.Ordinal).ToArray();
    }

    private static string[] Ids(Func<int, bool> which) => Enumerable.Range(0, 12).Where(which).Select(i => $"p{i}").Order(StringComparer.Ordinal).ToArray();

    private static async Task<JsonElement> Problem(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Typed_tags_and_filters_scope_search_and_ask_and_stay_within_the_tenant()
    {
        var key = (await api.Client.CreateKeyAsync(new("writer") { Tenant = "filters", Description = "filter routes" })).Key!;
        using var http = new HttpClient { BaseAddress = api.Http.BaseAddress };
        http.DefaultRequestHeaders.Add("X-Api-Key", key);
        var client = new RagClusterClient(api.Http.BaseAddress!, key);

        var badFields = await Problem(await http.PostAsJsonAsync("v1/collections", new { name = "policies", dimensions = 4, fields = new { published = "date" } }));
        Assert.Equal("fields.published: unknown type 'date'; use string, integer, float, boolean, datetime, string[], text", badFields.GetProperty("detail").GetString());
        var fields = new { published = "datetime", version = "integer", groups = "string[]" };
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("v1/collections", new { name = "policies", dimensions = 4, shardCount = 2, fields })).StatusCode);

        var documents = Enumerable.Range(0, 12).Select(Policy).Append(new { id = "bad", tags = new Dictionary<string, object> { ["version"] = "two" }, chunks = new[] { new { text = "x", vector = Vector(1) } } });
        var batch = await (await http.PostAsJsonAsync("v1/collections/policies/documents", new { documents })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(12, batch.GetProperty("accepted").GetInt32());
        Assert.Equal("tags.version: the collection declares 'version' as integer; got the string \"two\"",
            batch.GetProperty("documents")[12].GetProperty("error").GetProperty("detail").GetString());
        await client.SettledAsync("policies", Enumerable.Range(0, 12).Select(i => $"p{i}").ToArray());

        // Read back typed, the datetime in UTC.
        var held = (await client.GetDocumentContentsAsync("policies", ["p1"])).Single().Tags;
        Assert.Equal("2022-02-28T22:00:00Z", held["published"].GetString());
        Assert.Equal(1, held["version"].GetInt32());
        Assert.False(held["draft"].GetBoolean());
        Assert.Equal(["staff"], held["groups"].EnumerateArray().Select(g => g.GetString()));

        // Dates: published in 2023 or later, UTC (2022-01-01T00:00+02:00 plus 2i months: p6 is 2022-12-31T22:00Z).
        Assert.Equal(Ids(i => i >= 7), await Found(http, "policies", """{"published":{"$gte":"2023-01-01T00:00:00Z"}}"""));
        // A set of groups, and a set of departments.
        Assert.Equal(Ids(i => i % 2 == 0 && i % 3 != 2), await Found(http, "policies", """{"groups":{"$containsAny":["managers"]},"dept":{"$in":["hr","legal"]}}"""));
        // An OR with a NOT: HR, or not a draft and past version 8.
        Assert.Equal(Ids(i => i % 3 == 0 || (i % 4 != 0 && i > 8)),
            await Found(http, "policies", """{"$or":[{"dept":"hr"},{"$and":[{"$not":{"draft":true}},{"version":{"$gt":8}}]}]}"""));
        // The same filter on ask (its answer cites some of what it found, all within the filter), and the shorthand of before.
        var cited = await Found(http, "policies", """{"dept":"legal"}""", "ask");
        Assert.NotEmpty(cited);
        Assert.Subset(Ids(i => i % 3 == 1).ToHashSet(), cited.ToHashSet());
        Assert.Equal(Ids(i => i % 4 == 0), await Found(http, "policies", """{"draft":true}"""));

        // The listing route takes the same filter, a page at a time in id order, from the shards' tag indexes.
        var listed = await client.AllDocumentIdsAsync("policies", new Dictionary<string, object> { ["version"] = new Dictionary<string, int> { ["$lt"] = 5 } }).ToListAsync();
        Assert.Equal(Ids(i => i < 5), listed.ToArray());
        var page = await client.ListDocumentIdsAsync("policies", "p2", 2, new { draft = true });
        Assert.Equal(["p4", "p8"], page.DocumentIds);
        Assert.Equal("p8", page.Next);
        // So does the statuses route, a page at a time, and it takes ids or a filter, not both.
        var first = await client.GetDocumentStatusesAsync("policies", new { draft = true }, limit: 2);
        Assert.Equal(["p0", "p4"], first.Documents.Select(d => d.DocumentId));
        Assert.All(first.Documents, d => Assert.Equal("indexed", d.Status));
        var last = await client.GetDocumentStatusesAsync("policies", new { draft = true }, first.Next, 2);
        Assert.Equal(["p8"], last.Documents.Select(d => d.DocumentId));
        Assert.Null(last.Next);
        Assert.Equal("send either \"ids\" or \"filter\", not both",
            (await Problem(await http.PostAsJsonAsync("v1/collections/policies/documents/statuses", new { ids = new[] { "p1" }, filter = new { draft = true } }))).GetProperty("detail").GetString());
        Assert.Equal("filter.version.$lt: expects a number, got the string \"5\"",
            (await Problem(await http.GetAsync("v1/collections/policies/documents?filter=" + Uri.EscapeDataString("""{"version":{"$lt":"5"}}""")))).GetProperty("detail").GetString());

        // Problems say where, and a declared field's type is checked in filters too.
        var where = await Problem(await http.PostAsync("v1/collections/policies/search",
            new StringContent("""{"vector":[1,1,1,1],"filter":{"$or":[{"dept":"hr"},{"version":{"$gte":"2023"}}]}}""", System.Text.Encoding.UTF8, "application/json")));
        Assert.Equal("filter.$or[1].version.$gte: expects a number, got the string \"2023\"", where.GetProperty("detail").GetString());
        var ask = await Problem(await http.PostAsync("v1/collections/policies/ask",
            new StringContent("""{"question":"leave","filter":{"published":{"$in":[2023]}}}""", System.Text.Encoding.UTF8, "application/json")));
        Assert.Equal("filter.published.$in[0]: the collection declares this tag as datetime; got the number 2023", ask.GetProperty("detail").GetString());

        // Fields change with PUT: declaring dept an integer refuses the string filters on it from now on.
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync("v1/collections/policies", new { fields = new { dept = "integer" } })).StatusCode);
        Assert.Equal("integer", (await http.GetFromJsonAsync<JsonElement>("v1/collections/policies")).GetProperty("settings").GetProperty("fields").GetProperty("dept").GetString());
        var nowInteger = await Problem(await http.PostAsync("v1/collections/policies/search",
            new StringContent("""{"vector":[1,1,1,1],"filter":{"dept":"hr"}}""", System.Text.Encoding.UTF8, "application/json")));
        Assert.Equal("filter.dept: the collection declares this tag as integer; got the string \"hr\"", nowInteger.GetProperty("detail").GetString());

        // Another tenant's collection of the same name, searched with a filter every policy matches: none of them.
        var otherKey = (await api.Client.CreateKeyAsync(new("writer") { Tenant = "filters-other", Description = "filter routes" })).Key!;
        using var other = new HttpClient { BaseAddress = api.Http.BaseAddress };
        other.DefaultRequestHeaders.Add("X-Api-Key", otherKey);
        Assert.Equal(HttpStatusCode.Created, (await other.PostAsJsonAsync("v1/collections", new { name = "policies", dimensions = 4 })).StatusCode);
        await other.PostAsJsonAsync("v1/collections/policies/documents", new { id = "mine", tags = new { dept = "hr" }, chunks = new[] { new { text = "other tenant", vector = Vector(0) } } });
        await new RagClusterClient(api.Http.BaseAddress!, otherKey).SettledAsync("policies", ["mine"]);
        Assert.Equal(["mine"], await Found(other, "policies", """{"$or":[{"version":{"$exists":true}},{"dept":{"$exists":true}},{"$not":{"dept":{"$exists":true}}}]}"""));
    }
}
