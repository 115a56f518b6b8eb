using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RagCluster.Tests.Rag;

/// <summary>An API with the shipped rate limits (50 per second, burst 100 per key), as a new user runs it.</summary>
public sealed class DefaultLimitsApiProcess : ApiProcess
{
    protected override string[] RateLimitArgs => [];
}

public sealed class BulkIngestTests(DefaultLimitsApiProcess api, ITestOutputHelper output) : IClassFixture<DefaultLimitsApiProcess>
{
    private HttpClient Http => api.Http;

    [Fact]
    public async Task The_batch_form_answers_each_document_and_refuses_bad_ones_alone()
    {
        var response = await Http.PostAsJsonAsync("v1/collections/docs/documents", new
        {
            documents = new object?[]
            {
                new { id = "b1", text = "Batches carry many documents.", tags = new { lang = "en" } },
                new { id = "b2", format = "pdf", contentBase64 = Convert.ToBase64String(GhostscriptPdf.Make("T", new GhostscriptPdf.Page("Heading", ["A PDF inside a batch."]))) },
                new { id = "../escape", text = "bad id" },
                new { id = "b1", text = "the same id twice" },
                new { id = "b4", format = "pdf", text = "pdf must be base64" },
                new { id = "b5", contentBase64 = "%%%" },
                null,
            },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, body.GetProperty("accepted").GetInt32());
        Assert.Equal(5, body.GetProperty("rejected").GetInt32());
        var docs = body.GetProperty("documents").EnumerateArray().ToList();
        Assert.Equal(["pending", "pending", "rejected", "rejected", "rejected", "rejected", "rejected"], docs.Select(d => d.GetProperty("status").GetString()));
        Assert.Equal(["Invalid document id", "Duplicate document id", "Unsupported format", "Invalid contentBase64", "Missing document"],
            docs.Skip(2).Select(d => d.GetProperty("error").GetProperty("title").GetString()));

        var statuses = await WaitAll(["b1", "b2", "nobody"]);
        Assert.Equal(["indexed", "indexed", "notFound"], statuses.Select(s => s.GetProperty("status").GetString()));

        // The envelope itself: empty, too large, or mixed with a single document is a problem, not a partial ingest.
        foreach (var (bad, title) in new (object, string)[]
        {
            (new { documents = Array.Empty<object>() }, "Invalid batch"),
            (new { documents = Enumerable.Range(0, 1001).Select(i => new { id = $"x{i}", text = "x" }) }, "Invalid batch"),
            (new { id = "one", text = "one", documents = new[] { new { id = "two", text = "two" } } }, "Ambiguous body"),
        })
        {
            var r = await Http.PostAsJsonAsync("v1/collections/docs/documents", bad);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Equal(title, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        }
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("v1/collections/docs/documents/x0")).StatusCode);
    }

    [Fact]
    public async Task The_cli_ingests_5000_documents_through_the_batch_form_without_a_single_429()
    {
        var dir = Directory.CreateTempSubdirectory("rc-bulk");
        try
        {
            var corpus = Directory.CreateDirectory(Path.Combine(dir.FullName, "corpus"));
            for (var i = 0; i < 5000; i++)
                File.WriteAllText(Path.Combine(corpus.FullName, $"note{i:D4}.txt"), $"Note {i} records that sensor {i % 97} read {i * 7 % 1000} units on day {i % 365}.");
            var sw = Stopwatch.StartNew();
            var (exit, stdout, stderr) = CliProcess.Run(dir.FullName, new Dictionary<string, string>(), "ingest", corpus.FullName, "-c", "bulk",
                "--url", Http.BaseAddress!.ToString(), "--api-key", api.AdminKey);
            output.WriteLine($"5,000 documents submitted and indexed through the CLI in {sw.Elapsed.TotalSeconds:F1} s");
            Assert.True(exit == 0, stdout + stderr);
            Assert.Contains("5000 of 5000 indexed into 'bulk'", stdout);
            // While it ran it reported its pace: without a terminal, a line every 5 s with rates and the time left.
            Assert.Matches(@"indexing: \d+ of 5000 documents, \d+\.\d docs/s, \d+\.\d chunks/s, ETA (\d+[hms]|--)", stdout);
            Assert.Matches(@"indexed into 'bulk' in [\d.]+ s \([1-9]\d*\.\d docs/s, [1-9]\d*\.\d chunks/s\)", stdout);

            // Every one is searchable, and the API never answered 429 (its own request metric says so).
            var hit = await (await Http.PostAsJsonAsync("v1/collections/bulk/search", new { query = "note 4321", topK = 1, plan = "bm25" })).Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("note4321.txt", hit.GetProperty("hits")[0].GetProperty("documentId").GetString());
            var samples = PrometheusText.Parse(await Http.GetStringAsync("metrics"));
            var requests = samples.Where(s => s.Name == "http_server_request_duration_seconds_count").ToList();
            Assert.DoesNotContain(requests, s => s.Labels["http_response_status_code"] == "429" && s.Value > 0);
            var batches = requests.Where(s => s.Labels["http_route"] == "/v1/collections/{collection}/documents" && s.Labels["http_request_method"] == "POST").Sum(s => s.Value);
            Assert.InRange(batches, 5, 10); // 1,000 per request, not one request per document
        }
        finally
        {
            dir.Delete(true);
        }
    }

    private async Task<List<JsonElement>> WaitAll(string[] ids)
    {
        for (var i = 0; i < 200; i++)
        {
            var r = await (await Http.PostAsJsonAsync("v1/collections/docs/documents/statuses", new { ids })).Content.ReadFromJsonAsync<JsonElement>();
            var docs = r.GetProperty("documents").EnumerateArray().ToList();
            if (docs.All(d => d.GetProperty("status").GetString() != "pending")) return docs;
            await Task.Delay(100);
        }
        throw new TimeoutException("documents still pending");
    }
}
