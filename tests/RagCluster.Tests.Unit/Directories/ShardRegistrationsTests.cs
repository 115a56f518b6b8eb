using System.Collections.Immutable;
using System.Net;
using System.Reflection;
using Orleans.GrainDirectory;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Hosting.Directories;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Directories;

/// <summary>
/// The keeper of shard entries in the Redis grain directory, against a directory in memory: a lost entry is put back,
/// one left by a dead silo is taken over, and an activation whose entry names a live other one deactivates. And the
/// directory's membership check: an entry of a silo no table knows is gone.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ShardRegistrationsTests
{
    private static readonly GrainType Shards = GrainType.Create("indexshard");
    private static readonly SiloAddress Here = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1);
    private static readonly SiloAddress There = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11112), 1);
    private static readonly SiloAddress Gone = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11113), 1);

    public ShardRegistrationsTests() => Context.Deactivated.Clear(); // the fake contexts' record is static (DispatchProxy)

    [Fact]
    public async Task Lost_entries_are_put_back_and_a_duplicate_deactivates()
    {
        var log = new ListLogger();
        var keeper = new ShardRegistrations(Shards, null!, new Members(), log);
        Assert.False(keeper.TryGetConfigurator(GrainType.Create("cache"), null!, out _)); // other grains are not kept
        Assert.True(keeper.TryGetConfigurator(Shards, null!, out _));

        var lost = await Activate(keeper, "default.c/0");
        var same = await Activate(keeper, "default.c/1");
        var left = await Activate(keeper, "default.c/2");
        var duplicate = await Activate(keeper, "default.c/3");
        var directory = new MemoryDirectory();
        await directory.Register(same.Address);
        await directory.Register(Elsewhere(left.Address, Gone));
        var other = Elsewhere(duplicate.Address, There);
        await directory.Register(other);

        Assert.Equal(2, await keeper.CheckAsync(directory));
        Assert.Equal(lost.Address, await directory.Lookup(lost.Address.GrainId));
        Assert.Equal(left.Address, await directory.Lookup(left.Address.GrainId));
        Assert.Equal(other, await directory.Lookup(duplicate.Address.GrainId)); // the live other activation keeps the shard
        Assert.Equal([duplicate.Address.GrainId], Context.Deactivated);
        Assert.Contains(log.Lines, l => l.Contains("default.c/3") && l.Contains(There.ToString()));

        // Deactivated activations leave the keeper: their entries are not put back.
        await duplicate.Stop();
        await directory.Unregister(lost.Address);
        await lost.Stop();
        Context.Deactivated.Clear();
        Assert.Equal(0, await keeper.CheckAsync(directory));
        Assert.Null(await directory.Lookup(lost.Address.GrainId));
        Assert.Empty(Context.Deactivated);
    }

    [Fact]
    public async Task An_unreachable_directory_is_logged_once_and_changes_nothing()
    {
        var log = new ListLogger();
        var keeper = new ShardRegistrations(Shards, null!, new Members(), log);
        var shard = await Activate(keeper, "default.c/0");
        var directory = new MemoryDirectory { Down = true };
        Assert.Equal(0, await keeper.CheckAsync(directory));
        Assert.Equal(0, await keeper.CheckAsync(directory));
        Assert.Single(log.Lines, l => l.Contains("cannot be read"));
        Assert.Empty(Context.Deactivated);
        directory.Down = false;
        Assert.Equal(1, await keeper.CheckAsync(directory));
        Assert.Equal(shard.Address, await directory.Lookup(shard.Address.GrainId));
    }

    [Fact]
    public async Task An_entry_of_a_silo_the_membership_does_not_know_is_gone()
    {
        // Redis came back empty, the membership table started again, and the silo that held the shard was killed: it is
        // in no table, and its entry names a membership version higher than the new table's.
        var unknown = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11114), 1);
        var inner = new MemoryDirectory();
        var members = new Members();
        var directory = new MembershipCheckedDirectory(inner, members);
        var grain = GrainId.Create(Shards, "default.c/0");
        var stale = new GrainAddress { GrainId = grain, ActivationId = ActivationId.NewId(), SiloAddress = unknown, MembershipVersion = new MembershipVersion(40) };
        await inner.Register(stale);
        Assert.Null(await directory.Lookup(grain));
        Assert.Null(await inner.Lookup(grain)); // dropped, not only hidden
        Assert.Equal(1, members.Refreshes); // the table is read again before an entry is called gone

        await inner.Register(stale);
        var fresh = new GrainAddress { GrainId = grain, ActivationId = ActivationId.NewId(), SiloAddress = Here, MembershipVersion = new MembershipVersion(3) };
        Assert.Equal(fresh, await directory.Register(fresh)); // a registration takes the grain over from it
        var live = Elsewhere(fresh, There);
        Assert.Equal(fresh, await directory.Register(live)); // but not from a known silo
        Assert.Equal(fresh, await directory.Lookup(grain));

        // Redis down: ours (a 503 with Retry-After at the API), one line, not Orleans' exception with the driver's text.
        inner.Down = true;
        var down = await Assert.ThrowsAsync<StorageUnavailableException>(() => directory.Lookup(grain));
        Assert.Equal("the grain directory in Redis failed a lookup: Lookup failed: It was not possible to connect to the redis server(s)", down.Message);
        await Assert.ThrowsAsync<StorageUnavailableException>(() => directory.Register(fresh));
    }

    private static GrainAddress Elsewhere(GrainAddress a, SiloAddress silo) =>
        new() { GrainId = a.GrainId, ActivationId = ActivationId.NewId(), SiloAddress = silo, MembershipVersion = a.MembershipVersion };

    private static async Task<Activation> Activate(ShardRegistrations keeper, string key)
    {
        var address = new GrainAddress { GrainId = GrainId.Create(Shards, key), ActivationId = ActivationId.NewId(), SiloAddress = Here, MembershipVersion = new MembershipVersion(3) };
        var context = Context.Create(address);
        keeper.Configure(context);
        var observer = Context.Observers[address.ActivationId];
        await observer.OnStart(CancellationToken.None);
        return new Activation(address, observer);
    }

    private sealed record Activation(GrainAddress Address, ILifecycleObserver Observer)
    {
        public Task Stop() => Observer.OnStop(CancellationToken.None);
    }

    /// <summary>An <see cref="IGrainContext"/> with only what the keeper uses: its address, its lifecycle, Deactivate.</summary>
    public class Context : DispatchProxy
    {
        public static readonly Dictionary<ActivationId, ILifecycleObserver> Observers = [];
        public static readonly List<GrainId> Deactivated = [];
        private GrainAddress _address = null!;

        public static IGrainContext Create(GrainAddress address)
        {
            var context = Create<IGrainContext, Context>();
            ((Context)(object)context)._address = address;
            return context;
        }

        protected override object? Invoke(MethodInfo? method, object?[]? args) => method!.Name switch
        {
            "get_Address" => _address,
            "get_ActivationId" => _address.ActivationId,
            "get_GrainId" => _address.GrainId,
            "get_ObservableLifecycle" => Lifecycle.Create(_address.ActivationId),
            "Deactivate" => Record(),
            _ => throw new NotSupportedException(method.Name),
        };

        private object? Record()
        {
            lock (Deactivated) Deactivated.Add(_address.GrainId);
            return null;
        }
    }

    public class Lifecycle : DispatchProxy
    {
        private ActivationId _id;

        public static IGrainLifecycle Create(ActivationId id)
        {
            var lifecycle = Create<IGrainLifecycle, Lifecycle>();
            ((Lifecycle)(object)lifecycle)._id = id;
            return lifecycle;
        }

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            if (method!.Name != "Subscribe" || args is not [string, int, ILifecycleObserver observer]) throw new NotSupportedException(method.Name);
            Context.Observers[_id] = observer;
            return new CancellationTokenSource(); // an IDisposable
        }
    }

    private sealed class MemoryDirectory : IGrainDirectory
    {
        private readonly Dictionary<GrainId, GrainAddress> _entries = [];
        public bool Down { get; set; }

        public Task<GrainAddress?> Lookup(GrainId grainId) => Up(() => _entries.GetValueOrDefault(grainId));
        public Task<GrainAddress?> Register(GrainAddress address) => Register(address, null);

        // Orleans' Redis script: written when there is no entry or the entry is the previous address; else the entry is returned.
        public Task<GrainAddress?> Register(GrainAddress address, GrainAddress? previousAddress) => Up(() =>
        {
            if (_entries.TryGetValue(address.GrainId, out var current) && current.ActivationId != previousAddress?.ActivationId) return current;
            return _entries[address.GrainId] = address;
        });

        public Task Unregister(GrainAddress address) => Up(() => _entries.Remove(address.GrainId) ? address : null);
        public Task UnregisterSilos(List<SiloAddress> siloAddresses) => Task.CompletedTask;

        private Task<GrainAddress?> Up(Func<GrainAddress?> act) =>
            Down ? throw new OrleansException("Lookup failed: It was not possible to connect to the redis server(s)\n   at StackExchange.Redis...") : Task.FromResult(act());
    }

    private sealed class Members : IClusterMembershipService
    {
        public ClusterMembershipSnapshot CurrentSnapshot { get; } = new(ImmutableDictionary<SiloAddress, ClusterMember>.Empty
            .Add(Here, new ClusterMember(Here, SiloStatus.Active, "here"))
            .Add(There, new ClusterMember(There, SiloStatus.Active, "there"))
            .Add(Gone, new ClusterMember(Gone, SiloStatus.Dead, "gone")), new MembershipVersion(3));

        public IAsyncEnumerable<ClusterMembershipSnapshot> MembershipUpdates => throw new NotSupportedException();
        public int Refreshes { get; private set; }

        public ValueTask Refresh(MembershipVersion minimumVersion = default, CancellationToken cancellationToken = default)
        {
            Refreshes++;
            return ValueTask.CompletedTask;
        }
        public Task<bool> TryKill(SiloAddress siloAddress) => Task.FromResult(false);
    }
}
