using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using RagCluster.Grains.Documents;
using RagCluster.Storage;
using RagCluster.Storage.Concurrency;
using RagCluster.Storage.Schema;
using RagCluster.Storage.Sqlite;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Grain state on SQLite (the embedded default): overlapping writes share a transaction, yet each write succeeds or fails
/// on its own, and the rows are the ones Orleans' ADO.NET provider reads and writes (stores of earlier versions).
/// </summary>
[Trait("Category", "Unit")]
public sealed class GroupCommitStorageTests : IAsyncLifetime
{
    private const string ServiceId = "group-commit";
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-state-").FullName;
    private StoreLocation _store = null!;
    private GroupCommitGrainStorage _storage = null!;
    private IGrainStorageSerializer _serializer = null!;

    public async Task InitializeAsync()
    {
        _store = StoreLocation.Parse($"sqlite:{Path.Combine(_dir, "state.db")}");
        await DatabaseSchema.ApplyAsync(_store);
        var services = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(DocumentState).Assembly)).BuildServiceProvider();
        _serializer = new OrleansGrainStorageSerializer(services.GetRequiredService<Serializer>());
        _storage = new GroupCommitGrainStorage(_store, ServiceId, _serializer, services.GetRequiredService<IActivatorProvider>());
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private static GrainId Document(string key) => GrainId.Create("document", key);

    private static GrainState<DocumentState> State(string content, string? etag = null) =>
        new(new DocumentState { ContentHash = content, Version = 1 }) { ETag = etag };

    private async Task<GrainState<DocumentState>> ReadAsync(string key)
    {
        var read = new GrainState<DocumentState>();
        await _storage.ReadStateAsync("document", Document(key), read);
        return read;
    }

    /// <summary>Starts the writes while this test holds the file's write gate, so they are all queued before any commits.</summary>
    private async Task<Task[]> QueuedAsync(params (string Key, GrainState<DocumentState> State)[] writes)
    {
        Task[] started;
        using (await _store.SqliteWriteGate!.EnterAsync())
            started = writes.Select(w => _storage.WriteStateAsync("document", Document(w.Key), w.State)).ToArray();
        await Task.WhenAll(started.Select(t => t.ContinueWith(_ => { })));
        return started;
    }

    [Fact]
    public async Task Overlapping_writes_share_transactions_and_each_reads_back_with_its_version()
    {
        var states = Enumerable.Range(0, 200).Select(i => ($"kb/doc{i}", State($"first {i}"))).ToArray();
        var writes = await QueuedAsync(states);
        Assert.All(writes, w => Assert.True(w.IsCompletedSuccessfully));
        // One transaction may have taken the first write before the rest queued behind it; the rest go in one more.
        Assert.InRange(_storage.Commits, 1, 2);
        for (var i = 0; i < 200; i++)
        {
            var read = await ReadAsync($"kb/doc{i}");
            Assert.True(read.RecordExists);
            Assert.Equal("1", read.ETag);
            Assert.Equal($"first {i}", read.State.ContentHash);
        }

        var second = State("second 7", "1");
        await _storage.WriteStateAsync("document", Document("kb/doc7"), second);
        Assert.Equal("2", second.ETag);
        Assert.Equal("second 7", (await ReadAsync("kb/doc7")).State.ContentHash);
    }

    [Fact]
    public async Task A_stale_etag_fails_that_write_alone_and_the_rest_of_its_group_commits()
    {
        await _storage.WriteStateAsync("document", Document("kb/a"), State("a1"));
        var writes = await QueuedAsync(("kb/b", State("b1")), ("kb/a", State("a from a stale activation")), ("kb/c", State("c1")),
            ("kb/a", State("a2", "5")));
        Assert.True(writes[0].IsCompletedSuccessfully);
        Assert.True(writes[2].IsCompletedSuccessfully);
        await Assert.ThrowsAsync<InconsistentStateException>(() => writes[1]);
        await Assert.ThrowsAsync<InconsistentStateException>(() => writes[3]);
        var a = await ReadAsync("kb/a");
        Assert.Equal(("a1", "1"), (a.State.ContentHash, a.ETag));
        Assert.Equal("b1", (await ReadAsync("kb/b")).State.ContentHash);
        Assert.Equal("c1", (await ReadAsync("kb/c")).State.ContentHash);
    }

    [Fact]
    public async Task A_write_the_database_refuses_fails_alone_and_leaves_nothing_of_itself()
    {
        var failures = await InjectedWriteFailures.InstallAsync($"sqlite:{_store.SqlitePath}");
        await failures.FailStateWrites("kb/bad%");
        var writes = await QueuedAsync(("kb/good1", State("g1")), ("kb/bad", State("refused")), ("kb/good2", State("g2")));
        Assert.True(writes[0].IsCompletedSuccessfully);
        Assert.True(writes[2].IsCompletedSuccessfully);
        var refused = await Assert.ThrowsAsync<SqliteException>(() => writes[1]);
        Assert.Contains("injected write failure", refused.Message);
        Assert.False((await ReadAsync("kb/bad")).RecordExists);
        Assert.Equal("g2", (await ReadAsync("kb/good2")).State.ContentHash);

        await failures.HealAll();
        var again = State("accepted");
        await _storage.WriteStateAsync("document", Document("kb/bad"), again);
        Assert.Equal("1", again.ETag);
    }

    [Fact]
    public async Task Rows_of_orleans_adonet_statements_read_here_and_rows_written_here_read_there()
    {
        // What Orleans' ADO.NET provider runs (the statements our schema gives it), as it binds a string-keyed grain.
        async Task<object?> AdoNet(string queryKey, GrainId id, int? version, byte[]? payload = null)
        {
            await using var c = await _store.OpenAsync();
            await using var q = c.CreateCommand();
            q.CommandText = "SELECT QueryText FROM OrleansQuery WHERE QueryKey = @k";
            q.Parameters.Add(new SqliteParameter("@k", queryKey));
            await using var cmd = c.CreateCommand();
            cmd.CommandText = (string)(await q.ExecuteScalarAsync())!;
            foreach (var (name, value) in new (string, object?)[]
                     {
                         ("GrainIdHash", 0), ("GrainIdN0", 0L), ("GrainIdN1", 0L), ("GrainTypeHash", 0), ("GrainTypeString", "document"),
                         ("GrainIdExtensionString", id.Key.ToString()), ("ServiceId", ServiceId), ("GrainStateVersion", version), ("PayloadBinary", payload),
                     })
                cmd.Parameters.Add(new SqliteParameter("@" + name, value ?? DBNull.Value));
            await using var r = await cmd.ExecuteReaderAsync();
            do
            {
                if (await r.ReadAsync()) return queryKey == "ReadFromStorageKey" ? (r.GetValue(0), r.GetInt32(1)) : r.GetValue(0);
            } while (await r.NextResultAsync());
            return null;
        }

        var id = Document("kb/earlier");
        Assert.Equal(1L, Convert.ToInt64(await AdoNet("WriteToStorageKey", id, null, _serializer.Serialize(new DocumentState { ContentHash = "old" }).ToArray())));
        var read = await ReadAsync("kb/earlier");
        Assert.Equal(("old", "1", true), (read.State.ContentHash, read.ETag, read.RecordExists));

        read.State.ContentHash = "new";
        await _storage.WriteStateAsync("document", id, read);
        var (payload, version) = ((object, int))(await AdoNet("ReadFromStorageKey", id, null))!;
        Assert.Equal(2, version);
        Assert.Equal("new", _serializer.Deserialize<DocumentState>(new BinaryData((byte[])payload)).ContentHash);
    }
}
