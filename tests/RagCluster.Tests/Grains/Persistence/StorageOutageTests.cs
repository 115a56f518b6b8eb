using System.Diagnostics;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Storage;
using RagCluster.Storage.Faults;
using RagCluster.Storage.GrainLogs;
using RagCluster.Storage.Schema;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Reads through a short PostgreSQL outage (a restart, a failover): a shard activating while the server is down waits
/// for it, for a bounded time, instead of failing the search that woke it; past that bound it fails as ours.
/// A server of its own, since the tests stop it.
/// </summary>
public sealed class StorageOutageTests : IAsyncLifetime
{
    private PostgresServer _server = null!;
    private StoreLocation _store = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.StartAsync();
        try
        {
            _store = StoreLocation.Parse(await _server.CreateDatabaseAsync("outage"));
            await DatabaseSchema.ApplyAsync(_store);
        }
        catch
        {
            await _server.DisposeAsync(); // xUnit does not dispose a test whose InitializeAsync threw: the server would outlive it
            throw;
        }
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private PersistentLog Log() => new(new SqlGrainLogStore(_store, "outage"), "indexshard/default.kb/0", "shard");

    [Fact]
    public async Task A_log_read_started_while_the_server_is_down_returns_the_entries_once_it_is_back()
    {
        var writer = Log();
        await writer.ReadAsync();
        await writer.AppendAsync([[1], [2, 2]]);
        await writer.AppendAsync([[3, 3, 3]]); // a second append, so the pooled connections have been used

        await _server.StopAsync();
        var read = Log().ReadAsync();
        var back = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(1)); // the server stays down a second while the read is under way
        Assert.False(read.IsCompleted, "the read ended while the server was down");
        await _server.StartAgainAsync();
        back.Restart();

        var (snapshot, entries) = await read.WaitAsync(StoreFaults.ReadRetryWindow);
        Assert.Null(snapshot);
        Assert.Equal([1, 2, 3], entries.Select(e => e.Length).ToArray());
        Assert.True(back.Elapsed < TimeSpan.FromSeconds(3), $"the read ended {back.Elapsed.TotalSeconds:F1} s after the server was back");
    }

    [Fact]
    public async Task A_read_fails_as_storage_unavailable_once_the_outage_outlasts_the_retry_window()
    {
        await Log().ReadAsync();
        await _server.StopAsync();
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<StorageUnavailableException>(() => Log().ReadAsync());
        Assert.InRange(clock.Elapsed, StoreFaults.ReadRetryWindow - TimeSpan.FromSeconds(1.5), StoreFaults.ReadRetryWindow + TimeSpan.FromSeconds(5));
        Assert.Contains("a read of log 'shard'", e.Message);
        await _server.StartAgainAsync();
    }
}
