using System.Diagnostics;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using RagCluster.Client;
using RagCluster.VectorData;
using VectorData.ConformanceTests.Support;

namespace RagCluster.ConformanceTests;

/// <summary>
/// One API process (the embedded default: one silo, SQLite, a data folder of its own) for every class of the suite,
/// and what the connector declares where the suite lets a provider declare it.
/// </summary>
internal sealed class RagClusterTestStore : TestStore
{
    public static RagClusterTestStore Instance { get; } = new();
    public const string Key = "conformance-key-0123456789abcdef0123456789";
    public Uri Url { get; } = new($"http://127.0.0.1:{Environment.GetEnvironmentVariable("RC_PORT") ?? "18130"}/");
    private Process? _api;
    private string? _data;

    // A cosine collection keeps each vector scaled to length 1 (what its graph compares): the direction comes back, not the length.
    public override bool VectorsComparable => false;

    // Collection names are 1..64 of a-z, 0-9, '-' and '_'.
    public override string AdjustCollectionName(string baseName) => baseName.ToLowerInvariant();

    public RagClusterVectorStore NewStore(IEmbeddingGenerator? generator = null) =>
        new(new RagClusterClient(Url, Key), new RagClusterVectorStoreOptions { EmbeddingGenerator = generator });

    protected override async Task StartAsync()
    {
        _data = Directory.CreateTempSubdirectory("rc-conformance-data").FullName;
        var api = Environment.GetEnvironmentVariable("RC_API") ?? throw new InvalidOperationException("RC_API: the API's RagCluster.Api.dll");
        _api = Process.Start(new ProcessStartInfo("dotnet", [api, "--urls", Url.ToString().TrimEnd('/'), "--Storage:Path", _data, "--Auth:BootstrapAdminKey", Key,
            "--RateLimit:PermitsPerSecond", "100000", "--RateLimit:Burst", "100000"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        _api.OutputDataReceived += (_, _) => { };
        _api.ErrorDataReceived += (_, _) => { };
        _api.BeginOutputReadLine();
        _api.BeginErrorReadLine();
        using var http = new HttpClient();
        for (var i = 0; ; i++)
        {
            try { if ((await http.GetAsync(new Uri(Url, "health/ready"))).IsSuccessStatusCode) break; }
            catch (HttpRequestException) when (i < 240) { }
            if (i >= 240 || _api.HasExited) throw new InvalidOperationException("the API did not become ready");
            await Task.Delay(250);
        }
        DefaultVectorStore = NewStore();
    }

    protected override Task StopAsync()
    {
        _api?.Kill(entireProcessTree: true);
        _api?.WaitForExit();
        if (_data is not null) Directory.Delete(_data, recursive: true);
        return Task.CompletedTask;
    }
}
