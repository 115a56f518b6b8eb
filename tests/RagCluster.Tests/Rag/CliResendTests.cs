using System.Net;
using System.Text;
using System.Text.Json;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// `ragcluster ingest --url` against a stand-in for the API that answers as the API does under storage faults (see
/// DurabilityApiTests for the API's side): the CLI sends again exactly the documents answered 503, after Retry-After,
/// and lists them.
/// </summary>
public sealed class CliResendTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rc-cli-resend");

    [Fact]
    public async Task Ingest_resends_exactly_the_documents_answered_503_and_reports_them()
    {
        var docs = Directory.CreateDirectory(Path.Combine(_dir.FullName, "docs"));
        foreach (var name in new[] { "a.txt", "b.txt", "c.txt" }) File.WriteAllText(Path.Combine(docs.FullName, name), $"Text of {name}.");

        var port = Ports.Free();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var batches = new List<string[]>();
        var serving = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await listener.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
                var path = context.Request.Url!.AbsolutePath;
                var body = await new StreamReader(context.Request.InputStream).ReadToEndAsync();
                int status;
                object? answer;
                if (path == "/v1/collections") (status, answer) = (201, new { name = "kb" });
                else if (path == "/v1/collections/kb/documents/statuses")
                {
                    var ids = JsonDocument.Parse(body).RootElement.GetProperty("ids").EnumerateArray().Select(i => i.GetString()!).ToArray();
                    (status, answer) = (200, new { documents = ids.Select(id => new { documentId = id, status = "indexed", version = 1, chunkCount = 1 }) });
                }
                else if (path == "/v1/collections/kb/documents")
                {
                    var ids = JsonDocument.Parse(body).RootElement.GetProperty("documents").EnumerateArray().Select(d => d.GetProperty("id").GetString()!).ToArray();
                    lock (batches) batches.Add(ids);
                    var round = batches.Count;
                    if (round == 1)
                    {
                        // The whole request refused: the API's answer when the cluster cannot take it now.
                        context.Response.Headers["Retry-After"] = "1";
                        (status, answer) = (503, new { title = "Service unavailable", status = 503, detail = "storage unavailable" });
                    }
                    else
                    {
                        // Then one document refused inside an accepted batch, as the API does per document.
                        context.Response.Headers["Retry-After"] = "1";
                        (status, answer) = (202, new
                        {
                            documents = ids.Select(id => round == 2 && id == "b.txt"
                                ? (object)new { documentId = id, status = "rejected", error = new { status = 503, title = "Not stored", detail = "storage unavailable", retryAfter = 1 } }
                                : new { documentId = id, status = "pending", version = 1 }),
                        });
                    }
                }
                else (status, answer) = (404, new { title = "Not found", status = 404, detail = path });
                context.Response.StatusCode = status;
                context.Response.ContentType = status >= 400 ? "application/problem+json" : "application/json";
                var bytes = JsonSerializer.SerializeToUtf8Bytes(answer, new JsonSerializerOptions(JsonSerializerDefaults.Web));
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        });

        var run = await Task.Run(() => CliProcess.Run(_dir.FullName, new Dictionary<string, string>(), "ingest", "docs", "-c", "kb", "--url", $"http://127.0.0.1:{port}"));
        listener.Stop();
        await serving;

        Assert.True(run.Exit == 0, run.Out + run.Err);
        Assert.Equal(["a.txt,b.txt,c.txt", "a.txt,b.txt,c.txt", "b.txt"], batches.Select(b => string.Join(',', b.Order())));
        Assert.Contains("3 of 3 indexed into 'kb'", run.Out);
        Assert.Contains("3 document(s) answered 503 (not stored) were sent again (4 resends):", run.Out);
        Assert.Contains($"  resent: {Path.Combine("docs", "b.txt")}", run.Out);
    }

    public void Dispose()
    {
        try { _dir.Delete(true); } catch (IOException) { }
    }
}
