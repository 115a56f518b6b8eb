namespace RagCluster.Tests.Infrastructure;

/// <summary>One PostgreSQL server shared by every test that needs it; each test takes its own database.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private int _next;
    public PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgresServer.StartAsync();
    public async Task DisposeAsync() => await Server.DisposeAsync();

    public Task<string> NewDatabaseAsync() => Server.CreateDatabaseAsync($"rc_test_{Interlocked.Increment(ref _next)}");
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<PostgresFixture>, ICollectionFixture<RedisFixture>
{
    public const string Name = "cluster";
}
