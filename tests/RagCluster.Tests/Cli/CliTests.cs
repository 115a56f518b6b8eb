using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>The `ragcluster` CLI in embedded mode (its own silo on a temporary SQLite folder).</summary>
public sealed class CliTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rc-cli");

    private (int Exit, string Out, string Err) Cli(params string[] args) =>
        CliProcess.Run(_dir.FullName, new Dictionary<string, string> { ["RAGCLUSTER_MODEL"] = RepoPaths.TestModel }, args);

    [Fact]
    public void Ingest_lists_bad_files_without_aborting_then_search_ask_and_status_work()
    {
        var docs = Directory.CreateDirectory(Path.Combine(_dir.FullName, "docs"));
        File.WriteAllText(Path.Combine(docs.FullName, "kettle.md"), "# Kettle\n\nBoil water in the kettle before making tea.\n");
        File.WriteAllText(Path.Combine(docs.FullName, "bike.html"), "<html><body><nav>menu</nav><p>Bicycles have two wheels and pedals.</p></body></html>");
        File.WriteAllBytes(Path.Combine(docs.FullName, "program.exe"), [0x4D, 0x5A]);
        File.WriteAllText(Path.Combine(docs.FullName, "broken.json"), "{ not json");

        var ingest = Cli("ingest", "docs", "missing.txt", "-c", "kb", "--tag", "src=test");
        Assert.Equal(1, ingest.Exit);
        Assert.Contains("2 of 5 indexed into 'kb'", ingest.Out);
        Assert.Contains("program.exe: unsupported file type", ingest.Err);
        Assert.Contains("broken.json: invalid JSON", ingest.Err);
        Assert.Contains("missing.txt: no such file or folder", ingest.Err);

        var search = Cli("search", "two wheels", "-c", "kb", "--plan", "bm25");
        Assert.Equal(0, search.Exit);
        Assert.Contains("bike.html", search.Out);
        var ask = Cli("ask", "what do you boil in the kettle?", "-c", "kb");
        Assert.Equal(0, ask.Exit);
        Assert.Contains("[1] kettle.md", ask.Out);
        var status = Cli("status", "-c", "kb");
        Assert.Contains("kb: 2 documents", status.Out);
        Assert.Contains("dense retrieval on", status.Out);

        var bad = Cli("search", "", "-c", "kb");
        Assert.Equal(1, bad.Exit);
        Assert.Single(bad.Err.Trim().Split('\n')); // one line, no stack trace
        Assert.Contains("query must be 1..2000 characters", bad.Err);
        var unreachable = Cli("status", "--url", "http://127.0.0.1:1");
        Assert.Equal(1, unreachable.Exit);
        Assert.StartsWith("ragcluster: ", unreachable.Err);
    }

    [Theory]
    [InlineData("Embedding__Pooling", "max", "ragcluster: Embedding:Pooling must be 'mean' or 'cls'")]
    [InlineData("Ingest__AdmissionHold", "soon", "ragcluster: Ingest:AdmissionHold 'soon' is not a time span such as 00:00:30")]
    public void A_bad_setting_for_the_embedded_silo_is_one_line_naming_its_key(string variable, string value, string expected)
    {
        var run = CliProcess.Run(_dir.FullName, new Dictionary<string, string> { ["RAGCLUSTER_MODEL"] = RepoPaths.TestModel, [variable] = value }, "status", "-c", "kb");
        Assert.Equal(1, run.Exit);
        Assert.Equal(expected, run.Err.Trim());
    }

    [Fact]
    public void Keys_are_created_listed_rotated_and_revoked_and_a_missing_collection_is_one_line()
    {
        var created = Cli("keys", "create", "--tenant", "acme", "--role", "reader", "--description", "ci bot");
        Assert.Equal(0, created.Exit);
        var key = created.Out.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("rck_"));
        var keyId = key[4..21];
        var listed = Cli("keys", "list", "--tenant", "acme");
        Assert.Contains($"{keyId}  acme", listed.Out);
        Assert.DoesNotContain(key, listed.Out); // secrets are never listed
        var rotated = Cli("keys", "rotate", keyId);
        Assert.Equal(0, rotated.Exit);
        Assert.DoesNotContain(key, rotated.Out);
        Assert.Contains($"rck_{keyId}.", rotated.Out);
        Assert.Equal(0, Cli("keys", "revoke", keyId).Exit);
        Assert.Contains("REVOKED", Cli("keys", "list", "--tenant", "acme").Out);
        var bad = Cli("keys", "create", "--tenant", "acme", "--role", "superuser");
        Assert.Equal(1, bad.Exit);
        Assert.Contains("role must be one of", bad.Err);
        var unknown = Cli("keys", "revoke", "k0000000000000000");
        // The embedded CLI calls the API it hosts, so its errors are the API's problems, as with --url.
        Assert.Equal("ragcluster: 404 Key not found: no API key 'k0000000000000000'", unknown.Err.Trim());

        const string NoCollection = "ragcluster: 404 Collection not found: no collection 'nothing-here'; create it with POST /v1/collections";
        Assert.Equal(NoCollection, Cli("drop", "nothing-here").Err.Trim());
        var missing = Cli("search", "anything", "-c", "nothing-here");
        Assert.Equal(1, missing.Exit);
        Assert.Equal(NoCollection, missing.Err.Trim());
    }

    public void Dispose() => _dir.Delete(true);
}
