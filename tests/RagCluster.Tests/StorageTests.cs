using RagCluster.Runtime;
using RagCluster.Runtime.Placement;
using RagCluster.Runtime.Membership;
using RagCluster.Runtime.Storage;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests;

[Collection(ClusterCollection.Name)]
public sealed class StorageTests(PostgresFixture postgres)
{
    public sealed class Account { public int Balance { get; set; } public List<string> History { get; set; } = []; }

    private async Task<IClusterStore> StoreAsync(string kind)
    {
        var store = kind switch
        {
            "memory" => (IClusterStore)new InMemoryClusterStore(),
            "sqlite" => new SqliteClusterStore(Path.Combine(Path.GetTempPath(), "rc-st-" + Guid.NewGuid().ToString("N")[..8], "s.db"), "c", "svc"),
            "postgres" => new PostgresClusterStore(await postgres.NewDatabaseAsync(), "c", "svc"),
            _ => throw new ArgumentException(kind),
        };
        await store.InitializeAsync();
        return store;
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Grain_logs_append_in_order_refuse_a_second_writer_and_fold_into_snapshots(string kind)
    {
        await using var store = await StoreAsync(kind);
        var grain = new GrainId("Shard", "kb/0");
        Assert.Null(await store.ReadSnapshotAsync(grain, "shard"));
        for (var seq = 1; seq <= 5; seq++) await store.AppendAsync(grain, "shard", seq, [(byte)seq]);
        // A second activation that read the log before entry 5 tries to append its own entry 5.
        await Assert.ThrowsAsync<InconsistentStateException>(() => store.AppendAsync(grain, "shard", 5, [99]));
        Assert.Equal([1, 2, 3, 4, 5], (await store.ReadEntriesAsync(grain, "shard", 0)).Select(e => (int)e.Data[0]));

        await store.WriteSnapshotAsync(grain, "shard", 3, [30, 31]);
        var snapshot = await store.ReadSnapshotAsync(grain, "shard");
        Assert.Equal(3, snapshot!.Value.Seq);
        Assert.Equal([30, 31], snapshot.Value.Data);
        Assert.Equal([4L, 5L], (await store.ReadEntriesAsync(grain, "shard", 3)).Select(e => e.Seq));
        Assert.Empty(await store.ReadEntriesAsync(grain, "shard", 5));
        await store.WriteSnapshotAsync(grain, "shard", 5, [50]); // replaces the older snapshot
        Assert.Equal(5, (await store.ReadSnapshotAsync(grain, "shard"))!.Value.Seq);
        Assert.Empty(await store.ReadEntriesAsync(grain, "shard", 0));
        // Other logs and grains are separate.
        Assert.Null(await store.ReadSnapshotAsync(new GrainId("Shard", "kb/1"), "shard"));
        Assert.Empty(await store.ReadEntriesAsync(grain, "other", 0));
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Two_activations_racing_with_a_stale_ETag_cannot_corrupt_state(string kind)
    {
        await using var store = await StoreAsync(kind);
        var id = new GrainId("bank", "acct-1");
        var first = new PersistentState<Account>(store, id, "account");
        await first.ReadStateAsync();
        first.State.Balance = 100;
        first.State.History.Add("open");
        await first.WriteStateAsync();

        // Two activations (say, old and new owner during a membership change) both load the same version...
        var old = new PersistentState<Account>(store, id, "account");
        var fresh = new PersistentState<Account>(store, id, "account");
        await old.ReadStateAsync();
        await fresh.ReadStateAsync();
        // ...the new one writes first; the old one's write must fail, whatever it contains.
        fresh.State.Balance = 150;
        fresh.State.History.Add("deposit 50");
        await fresh.WriteStateAsync();
        old.State.Balance = 0;
        old.State.History.Add("withdraw 100");
        var e = await Assert.ThrowsAsync<InconsistentStateException>(() => old.WriteStateAsync());
        Assert.Contains("acct-1", e.Message);
        await Assert.ThrowsAsync<InconsistentStateException>(() => old.ClearStateAsync());

        var check = new PersistentState<Account>(store, id, "account");
        await check.ReadStateAsync();
        Assert.Equal(150, check.State.Balance);
        Assert.Equal(["open", "deposit 50"], check.State.History);

        // A writer that believes nothing is stored cannot overwrite either.
        var blind = new PersistentState<Account>(store, id, "account");
        await Assert.ThrowsAsync<InconsistentStateException>(() => blind.WriteStateAsync());

        // After a clear and a rewrite, the ETag from before the clear is still stale (ETags are never reused).
        await check.ClearStateAsync();
        Assert.False(check.RecordExists);
        await check.WriteStateAsync();
        await Assert.ThrowsAsync<InconsistentStateException>(() => fresh.WriteStateAsync());
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Directory_gives_a_grain_to_one_silo_and_hands_over_only_from_a_dead_one(string kind)
    {
        await using var store = await StoreAsync(kind);
        var id = new GrainId("g", "1");
        var winners = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => store.RegisterAsync(id, $"silo-{i}")));
        var holder = Assert.Single(winners.Distinct());
        Assert.False(await store.TryTakeOverAsync(id, "silo-x", "not-the-holder"));
        Assert.True(await store.TryTakeOverAsync(id, "silo-x", holder));
        await store.RemoveSiloAsync("silo-x");
        Assert.Equal("silo-y", await store.RegisterAsync(id, "silo-y"));
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Membership_writes_are_ordered_by_the_version_row(string kind)
    {
        await using var store = await StoreAsync(kind);
        var start = await store.ReadAllAsync();
        Assert.True(await store.TryWriteEntryAsync("a", "http://a", SiloStatus.Active, 1, start.Version));
        Assert.False(await store.TryWriteEntryAsync("b", "http://b", SiloStatus.Active, 1, start.Version)); // stale version
        var next = await store.ReadAllAsync();
        Assert.Equal(start.Version + 1, next.Version);
        Assert.Equal("a", Assert.Single(next.Entries).SiloId);
        await Task.Delay(300);
        Assert.True((await store.ReadAllAsync()).Entries[0].HeartbeatAgeMs >= 250);
        await store.HeartbeatAsync("a");
        Assert.True((await store.ReadAllAsync()).Entries[0].HeartbeatAgeMs < 250);
    }

    [Fact]
    public void Rendezvous_placement_moves_only_the_new_silos_share_when_one_joins()
    {
        MembershipEntry Silo(string id) => new(id, "http://" + id, SiloStatus.Active, 0, 0);
        var three = new MembershipView(1, [Silo("a"), Silo("b"), Silo("c")]);
        var four = new MembershipView(2, [Silo("a"), Silo("b"), Silo("c"), Silo("d")]);
        var grains = Enumerable.Range(0, 10_000).Select(i => new GrainId("t", $"k{i}")).ToList();
        var moved = grains.Where(g => three.OwnerOf(g)!.SiloId != four.OwnerOf(g)!.SiloId).ToList();
        Assert.All(moved, g => Assert.Equal("d", four.OwnerOf(g)!.SiloId)); // only moves onto the newcomer
        Assert.InRange(moved.Count, 2_200, 2_800);                          // about a quarter
        Assert.All(grains.GroupBy(g => three.OwnerOf(g)!.SiloId), g => Assert.InRange(g.Count(), 3_000, 3_700));
    }
}
