using System.Diagnostics;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>What a new user sees for a configuration mistake: one line naming it, a non-zero exit, no stack trace.</summary>
public sealed class StartupErrorTests
{
    [Theory]
    [InlineData("RagCluster.Api.dll", "--Auth:BootstrapAdminKey|short", "Auth:BootstrapAdminKey must be at least 32 characters")]
    [InlineData("RagCluster.Api.dll", "--Silo:SiloPort|99999", "Silo:SiloPort 99999 is not a TCP port")]
    [InlineData("RagCluster.Api.dll", "--Silo:StoragePoolSize|0", "Silo:StoragePoolSize 0 must be 1..1000 connections")]
    [InlineData("RagCluster.Api.dll", "--Ingest:PendingSweepPeriod|00:00:00", "Ingest:PendingSweepPeriod must be 00:00:01..01:00:00")]
    [InlineData("RagCluster.Api.dll", "--Ingest:MaxQueuedDocuments|0", "Ingest:MaxQueuedDocuments must be 1..10000000")]
    [InlineData("RagCluster.Silo.dll", "--Ingest:MaxQueuedMegabytes|0", "Ingest:MaxQueuedMegabytes must be 1..1000000")]
    [InlineData("RagCluster.Silo.dll", "--Ingest:PendingSweepPeriod|soon", "Ingest:PendingSweepPeriod 'soon' is not a time span such as 00:00:30")]
    [InlineData("RagCluster.Api.dll", "--Ingest:AdmissionHold|01:00:00", "Ingest:AdmissionHold must be 00:00:00..00:05:00")]
    [InlineData("RagCluster.Api.dll", "--Embedding:Pooling|max", "Embedding:Pooling must be 'mean' or 'cls'")]
    [InlineData("RagCluster.Api.dll", "--Embedding:Model|bert-large", "Embedding:Model must be minilm, arctic-xs or none (or set Embedding:ModelDirectory)")]
    [InlineData("RagCluster.Api.dll", "--Otlp:Endpoint|not a url", "Otlp:Endpoint 'not a url' is not an http(s) URL")]
    [InlineData("RagCluster.Api.dll", "--Embedding:ExecutionProvider|cuda|--Embedding:ModelDirectory|{model}", "Embedding:ExecutionProvider is 'cuda' but")]
    [InlineData("RagCluster.Silo.dll", "--Embedding:ExecutionProvider|cuda|--Embedding:ModelDirectory|{model}", "Embedding:ExecutionProvider is 'cuda' but")]
    [InlineData("RagCluster.Silo.dll", "--Silo:Clustering|zookeeper", "Silo:Clustering")]
    [InlineData("RagCluster.Silo.dll", "--Silo:Kubernetes|true", "Silo:Kubernetes is true but the silo is not clustered: set Silo:Redis too")]
    [InlineData("RagCluster.Silo.dll", "--Silo:Kubernetes|true|--Silo:Redis|127.0.0.1:1", "Silo:Kubernetes is true but POD_NAME or POD_NAMESPACE is not set (the Helm chart sets both from the downward API)")]
    [InlineData("RagCluster.Silo.dll", "--Silo:Roles|embedding,gpu", "Silo:Roles 'embedding,gpu' names an unknown role 'gpu'; known: embedding (or none)")]
    [InlineData("RagCluster.Silo.dll", "--Silo:DirectoryCacheSize|-5", "Silo:DirectoryCacheSize must be 0 (no cache) to 10000000")]
    // IOptions<T> checked at start (ValidateOnStart): every failed check in one line, and a value the binder cannot read named by its key.
    [InlineData("RagCluster.Api.dll", "--Collections:ShardCount|0|--Cache:L1Capacity|0", "Collections:ShardCount must be 1..256; Cache:L1Capacity must be 1..10000000")]
    [InlineData("RagCluster.Silo.dll", "--Hnsw:M|many", "Hnsw:M 'many' is not a whole number")]
    [InlineData("RagCluster.Silo.dll", "--Backup:RestoreLease|00:00:00", "Backup:RestoreLease must be 00:00:01..01:00:00")]
    public async Task A_configuration_error_ends_the_process_with_one_clear_line(string app, string args, string expected)
    {
        var dir = Directory.CreateTempSubdirectory("rc-startup");
        try
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir.FullName };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, app));
            // A private store and free ports first; the case's own switches come last and win.
            foreach (var a in new[] { "--Storage:Path", dir.FullName, "--Silo:Storage", $"sqlite:{dir.FullName}/s.db", "--Silo:SiloPort", Ports.Free().ToString(),
                         "--Silo:GatewayPort", "0", "--urls", "http://127.0.0.1:0" })
                psi.ArgumentList.Add(a);
            foreach (var a in args.Split('|')) psi.ArgumentList.Add(a.Replace("{model}", RepoPaths.TestModel));
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
            var err = (await stderr).Trim();
            var @out = await stdout;
            Assert.NotEqual(0, p.ExitCode);
            Assert.Contains(expected, err);
            Assert.Single(err.Split('\n'));
            var mistakes = err[(err.IndexOf(": ", StringComparison.Ordinal) + 2)..].Split("; "); // after "ragcluster api: "
            Assert.Equal(mistakes.Length, mistakes.Distinct().Count()); // each mistake named once
            Assert.DoesNotContain("   at ", @out + err); // no stack frames anywhere
            Assert.DoesNotContain("Unhandled exception", @out + err);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
