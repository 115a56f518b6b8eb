using System.Collections.Concurrent;
using System.Diagnostics;
using RagCluster.Runtime;
using RagCluster.Runtime.Membership;
using RagCluster.Runtime.Placement;
using RagCluster.Tests.Infrastructure;
using RagCluster.TestGrains;
using Xunit.Abstractions;

namespace RagCluster.Tests;

/// <summary>Multi-silo behaviour on the two real stores: SQLite (embedded) and PostgreSQL (cluster).</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private async Task<string> StorageAsync(string kind) => kind switch
    {
        "postgres" => await postgres.NewDatabaseAsync(),
        "sqlite" => $"sqlite:{Path.Combine(Path.GetTempPath(), "rc-" + Guid.NewGuid().ToString("N")[..8], "cluster.db")}",
        _ => throw new ArgumentException(kind),
    };

    private static GrainId CounterId(string key) => new(typeof(ICounterGrain).FullName!, key);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Thousand_concurrent_calls_from_three_gateways_hit_exactly_one_activation(string store)
    {
        await using var cluster = new TestCluster(await StorageAsync(store));
        var silos = new List<InProcessSilo>();
        for (var i = 0; i < 3; i++) silos.Add(await cluster.StartInProcessSiloAsync());
        var clients = silos.Select(s => cluster.CreateClient(s)).ToArray();
        var key = "hot-" + store + "-" + Guid.NewGuid().ToString("N")[..6];

        var calls = Enumerable.Range(0, 1000).Select(i => clients[i % 3].GetGrain<ICounterGrain>(key).Add(1));
        var results = await Task.WhenAll(calls);

        Assert.Equal(1000, await clients[0].GetGrain<ICounterGrain>(key).Get());
        Assert.Equal(Enumerable.Range(1, 1000), results.Order()); // every call saw a distinct, gap-free value
        Assert.Equal(1, ActivationTracker.MaxConcurrent(key));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Killed_silo_is_declared_dead_and_its_grains_come_back_elsewhere_with_persisted_state(string store)
    {
        await using var cluster = new TestCluster(await StorageAsync(store));
        var processes = new List<ProcessSilo>();
        for (var i = 0; i < 3; i++) processes.Add(await cluster.StartProcessSiloAsync());
        var client = cluster.CreateClient(processes[0]);
        // Views spread by polling: place nothing that matters until the gateway places grains on all three silos.
        var seen = new HashSet<string>();
        for (var n = 0; seen.Count < 3; n++)
        {
            Assert.True(n < 2000, "the gateway never placed grains on all three silos");
            seen.Add(await client.GetGrain<ICounterGrain>($"probe{n}").WhereAmI());
            if (n % 20 == 19) await Task.Delay(100);
        }

        var expected = new Dictionary<string, int>();
        for (var i = 0; i < 30; i++)
        {
            var key = $"k{i}";
            await client.GetGrain<ICounterGrain>(key).Add(i + 1);
            expected[key] = i + 1;
        }
        var victim = processes[2];
        var onVictim = new List<string>();
        foreach (var key in expected.Keys)
            if (await client.GetGrain<ICounterGrain>(key).WhereAmI() == victim.SiloId) onVictim.Add(key);
        Assert.NotEmpty(onVictim);

        // Calls keep flowing during the failure window; each must succeed correctly or fail retriably.
        using var stopLoad = new CancellationTokenSource();
        var bad = new ConcurrentBag<string>();
        var ok = 0;
        var retriable = 0;
        var load = Task.Run(async () =>
        {
            while (!stopLoad.IsCancellationRequested)
            {
                foreach (var key in onVictim)
                {
                    try
                    {
                        var value = await client.GetGrain<ICounterGrain>(key).Get();
                        if (value == expected[key]) Interlocked.Increment(ref ok);
                        else bad.Add($"{key}={value}, expected {expected[key]}");
                    }
                    catch (GrainRuntimeException e) when (e.IsRetriable) { Interlocked.Increment(ref retriable); }
                    catch (Exception e) { bad.Add($"{key}: {e.GetType().Name}: {e.Message}"); }
                }
            }
        });

        var clock = Stopwatch.StartNew();
        await victim.KillAsync();
        TimeSpan? declaredDeadAfter = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            var snapshot = await cluster.ReadMembershipAsync();
            if (snapshot.Entries.Single(e => e.SiloId == victim.SiloId).Status == SiloStatus.Dead)
            {
                declaredDeadAfter = clock.Elapsed;
                break;
            }
            await Task.Delay(50);
        }
        output.WriteLine($"[{store}] killed silo declared dead after {declaredDeadAfter?.TotalMilliseconds:0} ms");
        Assert.NotNull(declaredDeadAfter);
        Assert.True(declaredDeadAfter < TimeSpan.FromSeconds(10), $"declared dead after {declaredDeadAfter}");

        await Task.Delay(1000);
        stopLoad.Cancel();
        await load;
        output.WriteLine($"[{store}] during the window: {ok} correct reads, {retriable} retriable failures");
        Assert.Empty(bad);

        foreach (var key in onVictim)
        {
            Assert.Equal(expected[key], await client.GetGrain<ICounterGrain>(key).Get());
            Assert.NotEqual(victim.SiloId, await client.GetGrain<ICounterGrain>(key).WhereAmI());
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Added_silo_takes_over_its_grains_without_losing_a_call(string store)
    {
        await using var cluster = new TestCluster(await StorageAsync(store));
        var first = await cluster.StartInProcessSiloAsync();
        var second = await cluster.StartInProcessSiloAsync();
        var clients = new[] { cluster.CreateClient(first), cluster.CreateClient(second) };
        var keys = Enumerable.Range(0, 40).Select(i => $"{store}-move-{i}").ToArray();
        var acknowledged = new ConcurrentDictionary<string, int>();
        var failures = new ConcurrentBag<string>();
        foreach (var key in keys) { await clients[0].GetGrain<ICounterGrain>(key).Add(1); acknowledged[key] = 1; }

        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            while (!stop.IsCancellationRequested)
            {
                var key = keys[random.Next(keys.Length)];
                try
                {
                    await clients[w % 2].GetGrain<ICounterGrain>(key).Add(1);
                    acknowledged.AddOrUpdate(key, 1, (_, n) => n + 1);
                }
                catch (Exception e) { failures.Add($"{key}: {e.GetType().Name}: {e.Message}"); }
            }
        })).ToArray();

        await Task.Delay(500);
        var third = await cluster.StartInProcessSiloAsync();
        await Task.Delay(3000);
        stop.Cancel();
        await Task.WhenAll(workers);

        Assert.Empty(failures);
        var view = new MembershipView(third.Silo.ViewVersion, third.Silo.Members);
        var moved = 0;
        foreach (var key in keys)
        {
            var grain = clients[0].GetGrain<ICounterGrain>(key);
            Assert.Equal(acknowledged[key], await grain.Get());
            var owner = view.OwnerOf(CounterId(key))!.SiloId;
            Assert.Equal(owner, await grain.WhereAmI());
            if (owner == third.SiloId) moved++;
        }
        output.WriteLine($"[{store}] {moved} of {keys.Length} grains moved to the new silo; {acknowledged.Values.Sum()} calls acknowledged");
        Assert.InRange(moved, 1, keys.Length - 1);
    }

    [Fact]
    public async Task Graceful_stop_persists_grains_and_they_reactivate_on_the_remaining_silos()
    {
        await using var cluster = new TestCluster(await StorageAsync("postgres"));
        var a = await cluster.StartInProcessSiloAsync();
        var b = await cluster.StartInProcessSiloAsync();
        await cluster.WaitForStableViewAsync();
        var client = cluster.CreateClient(a);
        var keys = Enumerable.Range(0, 20).Select(i => $"leave-{i}").ToArray();
        foreach (var key in keys) { await client.GetGrain<ISelfCollectingGrain>(key).Bump(); await client.GetGrain<ISelfCollectingGrain>(key).Bump(); }
        Assert.True(b.Silo.ActivationCount > 0);

        var clock = Stopwatch.StartNew();
        await b.StopAsync();
        output.WriteLine($"graceful leave took {clock.ElapsedMilliseconds} ms");
        var snapshot = await cluster.ReadMembershipAsync();
        Assert.Equal(SiloStatus.Dead, snapshot.Entries.Single(e => e.SiloId == b.SiloId).Status);
        // SelfCollectingGrain only persists in OnDeactivateAsync: 3 proves the leave ran it.
        foreach (var key in keys) Assert.Equal(3, await client.GetGrain<ISelfCollectingGrain>(key).Bump());
    }

    [Fact]
    public async Task A_silo_that_finds_itself_declared_dead_stops_serving()
    {
        await using var cluster = new TestCluster(await StorageAsync("sqlite"));
        var a = await cluster.StartInProcessSiloAsync();
        var b = await cluster.StartInProcessSiloAsync();
        var stopped = new TaskCompletionSource();
        b.Silo.Terminated += () => stopped.TrySetResult();

        // What the others do to a silo they consider silent: mark it dead in the table.
        await using (var store = RagCluster.Runtime.Storage.ClusterStoreFactory.Create(cluster.Storage, cluster.ClusterId, cluster.ClusterId))
        {
            while (true)
            {
                var snapshot = await store.ReadAllAsync();
                var entry = snapshot.Entries.Single(e => e.SiloId == b.SiloId);
                if (await store.TryWriteEntryAsync(entry.SiloId, entry.Address, SiloStatus.Dead, entry.StartedMs, snapshot.Version)) break;
            }
        }
        await stopped.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(b.Silo.IsRunning);
        Assert.True(a.Silo.IsRunning);
        Assert.Equal(5, await cluster.CreateClient(a).GetGrain<ICounterGrain>("after-split").Add(5));
    }
}
