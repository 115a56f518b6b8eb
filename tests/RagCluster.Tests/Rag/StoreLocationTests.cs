using Npgsql;
using RagCluster.Storage;

namespace RagCluster.Tests.Rag;

/// <summary>How the one storage setting becomes a connection string.</summary>
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
    [InlineData("Host=db;No Reset On Close=false;Max Auto Prepare=0")]
    [InlineData("Host=db;NoResetOnClose=false;MaxAutoPrepare=0")]
    public void What_the_user_wrote_wins(string setting)
    {
        var cs = new NpgsqlConnectionStringBuilder(StoreLocation.Parse(setting).ConnectionString);
        Assert.False(cs.NoResetOnClose);
        Assert.Equal(0, cs.MaxAutoPrepare);
    }
}
