using Npgsql;
using RagCluster.Storage;
using RagCluster.Storage.Concurrency;
using RagCluster.Storage.Sqlite;

namespace RagCluster.Tests.Rag;

/// <summary>How the one storage setting becomes a connection string.</summary>
[Trait("Category", "Unit")]
public sealed class StoreLocationTests
{
    [Fact]
    public void A_postgres_string_gets_pooled_connections_that_skip_the_reset_and_reuse_prepared_statements()
    {
        var cs = new NpgsqlConnectionStringBuilder(StoreLocation.Parse("Host=db;Username=rag;Database=rc").ConnectionString);
        Assert.True(cs.NoResetOnClose);
        Assert.Equal(32, cs.MaxAutoPrepare);
        Assert.Equal("db", cs.Host);
    }

    [Theory]
    [InlineData("Host=db", null, 20)] // not Npgsql's 100: four silos would ask a default server for 400
    [InlineData("Host=db;Maximum Pool Size=7", null, 7)]
    [InlineData("Host=db;Maximum Pool Size=7", 12, 12)] // Silo:StoragePoolSize is the budget and wins
    public void Each_silo_opens_at_most_its_pool_size_and_says_so(string setting, int? poolSize, int expected)
    {
        var store = StoreLocation.Parse(setting, poolSize);
        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(store.ConnectionString).MaxPoolSize);
        Assert.Equal(expected, store.PoolSize);
        Assert.Contains($"pool of at most {expected} connections", store.Description);
    }

    [Fact]
    public async Task The_time_a_write_holds_the_sqlite_file_is_counted()
    {
        var store = StoreLocation.Parse($"sqlite:{Path.Combine(Path.GetTempPath(), $"rc-turns-{Guid.NewGuid():N}", "s.db")}");
        var before = SqliteWriteTurns.HeldSeconds;
        using (await store.EnterWriteAsync())
            await Task.Delay(50);
        // Other tests may write meanwhile (the counter is the process's), so only a lower bound holds.
        Assert.True(SqliteWriteTurns.HeldSeconds - before >= 0.045, $"counted {SqliteWriteTurns.HeldSeconds - before:F3} s");
    }

    [Theory]
    [InlineData("Host=db;No Reset On Close=false;Max Auto Prepare=0")]
    [InlineData("Host=db;NoResetOnClose=false;MaxAutoPrepare=0")]
    public void What_the_user_wrote_wins(string setting)
    {
        var cs = new NpgsqlConnectionStringBuilder(StoreLocation.Parse(setting).ConnectionString);
        Assert.False(cs.NoResetOnClose);
        Assert.Equal(0, cs.MaxAutoPrepare);
    }

    [Fact]
    public async Task Writers_to_one_sqlite_file_take_turns_and_other_files_do_not_wait()
    {
        var a = StoreLocation.Parse($"sqlite:{Path.Combine(Path.GetTempPath(), $"gate-{Guid.NewGuid():N}.db")}");
        var b = StoreLocation.Parse($"sqlite:{Path.Combine(Path.GetTempPath(), $"gate-{Guid.NewGuid():N}.db")}");
        Assert.Null(StoreLocation.Parse("Host=db").SqlitePath);
        Assert.Null(await StoreLocation.Parse("Host=db").EnterWriteAsync()); // PostgreSQL takes its writers as they come

        var first = await a.EnterWriteAsync();
        var second = a.EnterWriteAsync().AsTask();
        var sameFileOtherSpelling = SqliteWriteGate.For(Path.GetRelativePath(Environment.CurrentDirectory, a.SqlitePath!)).EnterAsync().AsTask();
        var otherFile = b.EnterWriteAsync().AsTask();
        Assert.True(otherFile.IsCompleted);
        await Task.Delay(50);
        Assert.False(second.IsCompleted);
        Assert.False(sameFileOtherSpelling.IsCompleted);
        first!.Dispose();
        first.Dispose(); // a second dispose passes nothing on
        (await second)!.Dispose();
        (await sameFileOtherSpelling).Dispose();
        (await otherFile)!.Dispose();
    }
}
