using RagCluster.Client;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// A two-silo in-process TestCluster whose primary silo also serves the HTTP API (<see cref="RagTestCluster.ApiUrl"/>),
/// for tests of what speaks HTTP (the .NET client, the VectorData connector) with the cluster's grains in reach.
/// </summary>
public sealed class TestClusterApi : IAsyncLifetime
{
    public RagTestCluster Cluster { get; private set; } = null!;
    public Uri Url => Cluster.ApiUrl!;
    public string AdminKey => RagTestCluster.ApiAdminKey;

    public RagClusterClient NewClient() => new(Url, AdminKey);

    public async Task InitializeAsync() => Cluster = await RagTestCluster.StartAsync(2, api: true, settings: new()
    {
        ["Embedding:ModelDirectory"] = RepoPaths.TestModel,
        ["Embedding:ExecutionProvider"] = "cpu",
    });

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
