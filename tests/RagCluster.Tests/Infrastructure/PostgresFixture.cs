namespace RagCluster.Tests.Infrastructure;

/// <summary>One PostgreSQL server shared by every test that needs it; each test takes its own database.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private int _next;
    public PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgresServer.StartAsync();
    public async Task DisposeAsync() => await Server.DisposeAsync();

    /// <summary>
    /// A database of its own for the next test. The tests of this collection run one after another, so the connections
    /// the earlier ones' pools keep idle in this process (up to 50 a database, for 300 s by default) are closed first:
    /// they piled up to 295 of the server's 300 (15 finished tests' databases), and a test restarting its silos got
    /// "53300: sorry, too many clients already".
    /// </summary>
    public Task<string> NewDatabaseAsync()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        return Server.CreateDatabaseAsync($"rc_test_{Interlocked.Increment(ref _next)}");
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<PostgresFixture>, ICollectionFixture<RedisFixture>
{
    public const string Name = "cluster";
}
