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

        var batches = new List<string[]>();
        var (port, listener, serving) = StandIn(batches, (ids, round) =>
        {
            if (round == 1) // the whole request refused: the API's answer when the cluster cannot take it now
                return (503, new { title = "Service unavailable", status = 503, detail = "storage unavailable" });
            // Then one document refused inside an accepted batch, as the API does per document.
            return (202, new
            {
                documents = ids.Select(id => round == 2 && id == "b.txt"
                    ? (object)new { documentId = id, status = "rejected", error = new { status = 503, title = "Not stored", detail = "storage unavailable", retryAfter = 1 } }
                    : new { documentId = id, status = "pending", version = 1 }),
            });
        });
        var run = await Task.Run(() => CliProcess.Run(_dir.FullName, new Dictionary<string, string>(), "ingest", "docs", "-c", "kb", "--url", $"http://127.0.0.1:{port}"));
        listener.Close();
        await serving;

        Assert.True(run.Exit == 0, run.Out + run.Err);
        Assert.Equal(["a.txt,b.txt,c.txt", "a.txt,b.txt,c.txt", "b.txt"], batches.Select(b => string.Join(',', b.Order())));
        Assert.Contains("3 of 3 indexed into 'kb'", run.Out);
        Assert.Contains("3 document(s) answered 503 (not stored) were sent again (4 resends):", run.Out);
        Assert.Contains($"  resent: {Path.Combine("docs", "b.txt")}", run.Out);
    }

    [Fact]
    public async Task Ingest_keeps_sending_to_a_full_backlog_while_each_send_stores_some()
    {
        // A silo whose indexing backlog is full takes one document a send: 8 documents need 8 sends, more than the
        // 6 sends in a row that store nothing after which a document is reported failed.
        var docs = Directory.CreateDirectory(Path.Combine(_dir.FullName, "docs"));
        for (var i = 0; i < 8; i++) File.WriteAllText(Path.Combine(docs.FullName, $"d{i}.txt"), $"Text {i}.");
        var batches = new List<string[]>();
        var (port, listener, serving) = StandIn(batches, (ids, _) => (202, new
        {
            documents = ids.Select(id => id == ids.Min()
                ? (object)new { documentId = id, status = "pending", version = 1 }
                : new { documentId = id, status = "rejected", error = new { status = 503, title = "Ingest backlog full", detail = "full", retryAfter = 1 } }),
        }));

        var run = await Task.Run(() => CliProcess.Run(_dir.FullName, new Dictionary<string, string>(), "ingest", "docs", "-c", "kb", "--url", $"http://127.0.0.1:{port}"));
        listener.Close();
        await serving;

        Assert.True(run.Exit == 0, run.Out + run.Err);
        Assert.Equal(Enumerable.Range(0, 8).Select(n => 8 - n), batches.Select(b => b.Length));
        Assert.Contains("8 of 8 indexed into 'kb'", run.Out);
    }

    /// <summary>
    /// A stand-in for the API on a free loopback port: creates the collection, answers every status "indexed", and
    /// answers each batch of documents (its ids, and which batch it is from 1) with <paramref name="answer"/>.
    /// </summary>
    private static (int Port, HttpListener Listener, Task Serving) StandIn(List<string[]> batches, Func<string[], int, (int Status, object Answer)> answer)
    {
        var port = Ports.Free();
        var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
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
                object? reply;
                if (path == "/v1/collections") (status, reply) = (201, new { name = "kb" });
                else if (path == "/v1/collections/kb/documents/statuses")
                {
                    var ids = JsonDocument.Parse(body).RootElement.GetProperty("ids").EnumerateArray().Select(i => i.GetString()!).ToArray();
                    (status, reply) = (200, new { documents = ids.Select(id => new { documentId = id, status = "indexed", version = 1, chunkCount = 1 }) });
                }
                else if (path == "/v1/collections/kb/documents")
                {
                    var ids = JsonDocument.Parse(body).RootElement.GetProperty("documents").EnumerateArray().Select(d => d.GetProperty("id").GetString()!).ToArray();
                    int round;
                    lock (batches) { batches.Add(ids); round = batches.Count; }
                    context.Response.Headers["Retry-After"] = "1";
                    (status, reply) = answer(ids, round);
                }
                else (status, reply) = (404, new { title = "Not found", status = 404, detail = path });
                context.Response.StatusCode = status;
                context.Response.ContentType = status >= 400 ? "application/problem+json" : "application/json";
                var bytes = JsonSerializer.SerializeToUtf8Bytes(reply, new JsonSerializerOptions(JsonSerializerDefaults.Web));
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        });
        return (port, listener, serving);
    }

    public void Dispose()
    {
        try { _dir.Delete(true); } catch (IOException) { }
    }
}
