using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Storage;
using RagCluster.Tests.Infrastructure;
using RagCluster.TestGrains;
using Xunit.Abstractions;

namespace RagCluster.Tests;

/// <summary>Multi-silo behaviour on Orleans with the real stores: SQLite (embedded) and PostgreSQL + Redis (cluster).</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterTests(PostgresFixture postgres, RedisFixture redis, ITestOutputHelper output)
{
    private async Task<string?> StorageAsync(string kind) => kind switch
    {
        "postgres" => await postgres.NewDatabaseAsync(),
        "sqlite" => null, // RagTestCluster's default: a SQLite file every silo opens
        _ => throw new ArgumentException(kind),
    };

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Thousand_concurrent_calls_from_three_silos_hit_exactly_one_activation(string store)
    {
        await using var cluster = await RagTestCluster.StartAsync(3, await StorageAsync(store));
        // Callers on each of the three silos (each silo's own grain factory), so the calls race in from everywhere.
        var callers = cluster.Cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services.GetRequiredService<IGrainFactory>()).ToArray();
        var key = "hot-" + store + "-" + Guid.NewGuid().ToString("N")[..6];

        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => callers[i % 3].GetGrain<ICounterGrain>(key).Add(1)));

        Assert.Equal(1000, await cluster.Grains.GetGrain<ICounterGrain>(key).Get());
        Assert.Equal(Enumerable.Range(1, 1000), results.Order()); // every call saw a distinct, gap-free value
        Assert.Equal(1, ActivationTracker.MaxConcurrent(key));
        // Every silo runs with our directory cache size, not Orleans' million slots (walked on every metrics read).
        Assert.All(cluster.Cluster.Silos.Cast<InProcessSiloHandle>(), s =>
            Assert.Equal(new RagCluster.Hosting.SiloOptions().DirectoryCacheSize, s.SiloHost.Services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value.CacheSize));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_write_based_on_a_stale_ETag_is_refused_and_overwrites_nothing(string store)
    {
        await using var cluster = await RagTestCluster.StartAsync(1, await StorageAsync(store));
        var key = "etag-" + Guid.NewGuid().ToString("N")[..6];
        var counter = cluster.Grains.GetGrain<ICounterGrain>(key);
        Assert.Equal(5, await counter.Add(5));
        // Another writer (a second activation, an operator) changes the row behind the grain's back.
        var location = StoreLocation.Parse(cluster.Storage);
        await using (var c = await location.OpenAsync())
        await using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "UPDATE ragcluster_state SET version = version + 1 WHERE grain_key = @k";
            var p = cmd.CreateParameter();
            p.ParameterName = "k";
            p.Value = key;
            cmd.Parameters.Add(p);
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }
        await Assert.ThrowsAsync<InconsistentStateException>(() => counter.Add(1));
        // The refused write changed nothing: a fresh activation (Orleans deactivates after the conflict) reads 5.
        for (var i = 0; i < 50 && await counter.Get() != 5; i++) await Task.Delay(100);
        Assert.Equal(5, await counter.Get());
        Assert.Equal(6, await counter.Add(1));
    }

    [Fact]
    public async Task A_silo_added_under_load_takes_activations_and_no_call_fails()
    {
        await using var cluster = await RagTestCluster.StartAsync(2);
        var failures = 0;
        var calls = 0;
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                try
                {
                    await cluster.Grains.GetGrain<ICounterGrain>($"load-{w}-{n % 200}").Add(1);
                    Interlocked.Increment(ref calls);
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref failures);
                    output.WriteLine($"call failed: {e.GetType().Name}: {e.Message}");
                }
            }
        })).ToArray();
        await Task.Delay(1000);
        var added = await cluster.StartSiloAsync();
        // New grains are placed on the new silo too once the others see it (placement uses their load statistics).
        var placedOnNew = 0;
        var joined = Stopwatch.StartNew();
        for (var n = 0; joined.Elapsed < TimeSpan.FromSeconds(20) && placedOnNew == 0; n++)
        {
            if (await cluster.Grains.GetGrain<ICounterGrain>($"new-{n}").WhereAmI() == added.SiloAddress.ToString()) placedOnNew++;
            if (n % 20 == 19) await Task.Delay(200);
        }
        await Task.Delay(1000);
        stop.Cancel();
        await Task.WhenAll(load);
        output.WriteLine($"{calls} calls while a silo joined, {failures} failed");
        Assert.Equal(0, failures);
        Assert.True(calls > 100, $"only {calls} calls ran");
        Assert.True(placedOnNew > 0, "no grain was placed on the added silo");
    }

    /// <summary>
    /// Three real silo processes on PostgreSQL (state) and Redis (membership); one is killed with SIGKILL while 300
    /// documents are being ingested. The survivors declare it dead within 10 s, its grains come back with their
    /// persisted state, and every document ends indexed with exactly its chunks: none lost, none doubled.
    /// </summary>
    [Fact]
    public async Task Kill_9_of_a_silo_mid_ingest_loses_and_duplicates_nothing_and_it_is_declared_dead_within_10_s()
    {
        var clusterId = "kill-" + Guid.NewGuid().ToString("N")[..6];
        var dsn = await postgres.NewDatabaseAsync();
        var work = Directory.CreateTempSubdirectory("rc-kill").FullName;
        string[] common = ["--Silo:ClusterId", clusterId, "--Silo:Storage", dsn, "--Silo:Redis", redis.Server.ConnectionString,
            "--Collections:ShardCount", "8", "--Logging:LogLevel:Default", "Information"];
        var silos = new List<SiloProcess>();
        try
        {
            // One at a time: the first creates the schema (the others would wait on its advisory lock anyway).
            for (var i = 0; i < 3; i++) silos.Add(await SiloProcess.StartAsync(work, common));
            using var clientHost = new HostBuilder().UseOrleansClient(c =>
            {
                c.UseRedisClustering(o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(redis.Server.ConnectionString));
                c.Configure<ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = clusterId; });
            }).Build();
            await clientHost.StartAsync();
            var client = clientHost.Services.GetRequiredService<IClusterClient>();
            var management = client.GetGrain<IManagementGrain>(0);
            for (var i = 0; i < 100 && (await management.GetHosts(onlyActive: true)).Count < 3; i++) await Task.Delay(200);
            Assert.Equal(3, (await management.GetHosts(onlyActive: true)).Count);

            // Collections with persisted settings; the victim's come back with theirs. Placement from a client is uneven
            // (1, 12 and 22 of 60 landed on one silo in three runs), so the victim is the non-first silo (the first one
            // answers the membership checks) that got the most, and more are created until one of them got some.
            var placed = new Dictionary<string, List<(string Key, int Shards)>>();
            var created = 0;
            for (; created < 600 && (created < 60 || silos.Skip(1).All(s => !placed.ContainsKey(s.SiloAddress))); created++)
            {
                var c = (Key: $"kept-{created}", Shards: 1 + created % 8);
                await client.GetGrain<ICollectionGrain>(c.Key).Create(new CollectionSettings(c.Shards, 256, 32));
                var at = (await management.GetActivationAddress(client.GetGrain<ICollectionGrain>(c.Key)))?.ToString() ?? "";
                (placed.TryGetValue(at, out var list) ? list : placed[at] = []).Add(c);
            }
            var victim = silos.Skip(1).MaxBy(s => placed.GetValueOrDefault(s.SiloAddress)?.Count ?? 0)!;
            var onVictim = placed.GetValueOrDefault(victim.SiloAddress) ?? [];
            output.WriteLine($"{created} collections created, {onVictim.Count} on the victim");
            Assert.NotEmpty(onVictim);

            var docs = Enumerable.Range(0, 300).Select(i => (Id: $"d{i:D3}", Text: $"Document {i} about topic {i % 17}. " +
                string.Join(' ', Enumerable.Range(0, 40 + i % 60).Select(w => $"word{(i * 7 + w) % 997}")))).ToList();
            var submitted = 0;
            var ingest = Task.Run(async () =>
            {
                await Parallel.ForEachAsync(docs, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (d, _) =>
                {
                    await Retry(() => client.GetGrain<IDocumentGrain>($"kb/{d.Id}").Ingest(new IngestRequest("txt",
                        System.Text.Encoding.UTF8.GetBytes(d.Text), [], null)));
                    Interlocked.Increment(ref submitted);
                });
            });
            while (Volatile.Read(ref submitted) < 100 && !ingest.IsCompleted) await Task.Delay(10);
            var killedAt = Stopwatch.StartNew();
            await victim.KillAsync();
            // Declared dead: a survivor's membership view says so.
            var survivor = client.GetGrain<RagCluster.Hosting.Diagnostics.ISiloDiagnosticsGrain>(silos[0].ParsableAddress);
            while ((await Retry(() => survivor.GetMembershipView())).GetValueOrDefault(victim.SiloAddress) != "Dead")
            {
                Assert.True(killedAt.Elapsed < TimeSpan.FromSeconds(30), "the killed silo was not declared dead within 30 s");
                await Task.Delay(100);
            }
            var detection = killedAt.Elapsed;
            output.WriteLine($"killed silo declared dead after {detection.TotalSeconds:F1} s");
            Assert.True(detection < TimeSpan.FromSeconds(10), $"declared dead after {detection.TotalSeconds:F1} s");
            await ingest.WaitAsync(TimeSpan.FromSeconds(180));

            foreach (var (k, shards) in onVictim) Assert.Equal(shards, (await Retry(() => client.GetGrain<ICollectionGrain>(k).GetInfo())).Settings.ShardCount);
            output.WriteLine($"{onVictim.Count} collection grains of the killed silo came back with their settings");

            var deadline = DateTime.UtcNow.AddSeconds(120);
            List<DocumentStatus> statuses;
            while (true)
            {
                statuses = (await Task.WhenAll(docs.Select(d => Retry(() => client.GetGrain<IDocumentGrain>($"kb/{d.Id}").GetStatus())))).ToList();
                if (statuses.All(s => s.Status == DocumentStatuses.Indexed) || DateTime.UtcNow > deadline) break;
                await Task.Delay(500);
            }
            Assert.All(statuses, s => Assert.Equal(DocumentStatuses.Indexed, s.Status));
            var counts = await ChunkCountsAsync(client, "kb");
            var lost = statuses.Count(s => counts.GetValueOrDefault(s.DocumentId) < s.ChunkCount);
            var doubled = statuses.Count(s => counts.GetValueOrDefault(s.DocumentId) > s.ChunkCount);
            output.WriteLine($"{docs.Count} documents, {statuses.Sum(s => s.ChunkCount)} chunks: {lost} with lost chunks, {doubled} with duplicated chunks");
            Assert.Equal((0, 0), (lost, doubled));
            Assert.Equal(docs.Count, (await client.GetGrain<ICollectionGrain>("kb").GetInfo()).DocumentCount);
            await clientHost.StopAsync();
        }
        catch (Exception e)
        {
            Report(silos, "kill", e);
            throw;
        }
        finally
        {
            await CleanUpAsync(silos, work);
        }
    }

    /// <summary>
    /// Item 3 of issue 21: both silo processes are killed (-9) while acknowledged documents are still pending (one
    /// indexing slot a silo keeps a backlog), the silos are started again, and nothing calls a document: the
    /// collection's reminder (Orleans ADO.NET reminders on PostgreSQL) sweeps them, they resume, and all are indexed.
    /// </summary>
    [Fact]
    public async Task After_every_silo_is_killed_mid_ingest_the_acknowledged_documents_are_indexed_with_no_call_to_them()
    {
        var clusterId = "sweep-" + Guid.NewGuid().ToString("N")[..6];
        var dsn = await postgres.NewDatabaseAsync();
        var work = Directory.CreateTempSubdirectory("rc-sweep").FullName;
        string[] common = ["--Silo:ClusterId", clusterId, "--Silo:Storage", dsn, "--Silo:Redis", redis.Server.ConnectionString,
            "--Ingest:PendingSweepPeriod", "00:00:02", "--Logging:LogLevel:Default", "Information"];
        var silos = new List<SiloProcess>();
        IHost Client() => new HostBuilder().UseOrleansClient(c =>
        {
            c.UseRedisClustering(o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(redis.Server.ConnectionString));
            c.Configure<ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = clusterId; });
        }).Build();
        try
        {
            for (var i = 0; i < 2; i++) silos.Add(await SiloProcess.StartAsync(work, [.. common, "--Ingest:MaxConcurrentDocuments", "1"]));
            var acknowledged = new System.Collections.Concurrent.ConcurrentBag<string>();
            using (var first = Client())
            {
                await first.StartAsync();
                var client = first.Services.GetRequiredService<IClusterClient>();
                await client.GetGrain<ICollectionGrain>("kb").Create(new CollectionSettings(4, 256, 32));
                using var stop = new CancellationTokenSource();
                var ingest = Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stop.Token }, async (i, _) =>
                {
                    var text = $"Document {i} about topic {i % 13}. " + string.Join(' ', Enumerable.Range(0, 30 + i % 50).Select(w => $"word{(i * 11 + w) % 701}"));
                    try
                    {
                        var status = await client.GetGrain<IDocumentGrain>($"kb/d{i:D3}").Ingest(new IngestRequest("txt", System.Text.Encoding.UTF8.GetBytes(text), [], null));
                        acknowledged.Add(status.DocumentId);
                    }
                    catch (Exception) when (stop.IsCancellationRequested) { } // cut off by the kill: not acknowledged
                });
                while (acknowledged.Count < 120 && !ingest.IsCompleted) await Task.Delay(10);
                await Task.WhenAll(silos.Select(s => s.KillAsync()));
                stop.Cancel();
                try { await ingest.WaitAsync(TimeSpan.FromSeconds(60)); } catch (Exception) { }
            }
            output.WriteLine($"{acknowledged.Count} documents acknowledged before every silo was killed");

            var downtime = Stopwatch.StartNew();
            foreach (var s in silos) await s.DisposeAsync();
            silos.Clear();
            for (var i = 0; i < 2; i++) silos.Add(await SiloProcess.StartAsync(work, common));
            output.WriteLine($"silos back after {downtime.Elapsed.TotalSeconds:F1} s");
            using var second = Client();
            await second.StartAsync();
            var collection = second.Services.GetRequiredService<IClusterClient>().GetGrain<ICollectionGrain>("kb");
            // Only the collection is asked (a call to a document would activate it and so resume it).
            var back = Stopwatch.StartNew();
            var info = await Retry(() => collection.GetInfo());
            var registered = (await Retry(() => collection.ListDocuments(null, 10_000))).DocumentIds.ToHashSet();
            while (info.UnsettledCount > 0 || acknowledged.Any(id => !registered.Contains(id)))
            {
                Assert.True(back.Elapsed < TimeSpan.FromSeconds(60),
                    $"after 60 s, {acknowledged.Count(id => !registered.Contains(id))} acknowledged documents not registered, {info.UnsettledCount} unsettled");
                await Task.Delay(250);
                info = await Retry(() => collection.GetInfo());
                registered = (await Retry(() => collection.ListDocuments(null, 10_000))).DocumentIds.ToHashSet();
            }
            output.WriteLine($"all settled {back.Elapsed.TotalSeconds:F1} s after the silos were back");
            // The first sweep after the restart saw the documents the kill left pending (the silos log each sweep's count).
            var firstSweep = silos.Select(s => System.Text.RegularExpressions.Regex.Match(s.AllOutput, @"Sweep of collection kb: (\d+) document"))
                .Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).DefaultIfEmpty(0).Max();
            output.WriteLine($"the first sweep after the restart found {firstSweep} documents unsettled");
            Assert.True(firstSweep > 0, "the kill left no pending document, so this run proves nothing");

            var client2 = second.Services.GetRequiredService<IClusterClient>();
            var statuses = await Task.WhenAll(acknowledged.Select(id => Retry(() => client2.GetGrain<IDocumentGrain>($"kb/{id}").GetStatus())));
            Assert.All(statuses, st => Assert.Equal(DocumentStatuses.Indexed, st.Status));
            var counts = await ChunkCountsAsync(client2, "kb");
            Assert.All(statuses, st => Assert.Equal(st.ChunkCount, counts.GetValueOrDefault(st.DocumentId)));
            await second.StopAsync();
        }
        catch (Exception e)
        {
            Report(silos, "sweep", e);
            throw;
        }
        finally
        {
            await CleanUpAsync(silos, work);
        }
    }

    /// <summary>Each document's chunks over the collection's shards.</summary>
    private static async Task<Dictionary<string, int>> ChunkCountsAsync(IGrainFactory grains, string collection)
    {
        var counts = new Dictionary<string, int>();
        foreach (var key in await Retry(() => grains.ShardKeysAsync(collection)))
            foreach (var (doc, n) in await Retry(() => grains.GetGrain<IIndexShardGrain>(key).ChunkCounts()))
                counts[doc] = counts.GetValueOrDefault(doc) + n;
        return counts;
    }

    private void Report(List<SiloProcess> silos, string test, Exception e)
    {
        foreach (var s in silos) output.WriteLine($"--- silo {s.SiloAddress}:\n{s.Digest}");
        // Last, so that a log showing only the end of the run still says why.
        output.WriteLine($"--- the {test} test failed: {e.GetType().Name}: {e.Message}");
    }

    private static async Task CleanUpAsync(List<SiloProcess> silos, string work)
    {
        foreach (var s in silos) await s.DisposeAsync();
        try { Directory.Delete(work, true); } catch (IOException) { }
    }

    private static async Task<T> Retry<T>(Func<Task<T>> call)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await call();
            }
            // Ours too: a refusal a client is told to retry (503 with Retry-After over HTTP), e.g. while a silo's
            // reminder service loads the range it took over from the killed one.
            catch (Exception e) when (e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException
                                          or Orleans.Runtime.Messaging.ConnectionFailedException
                                          or RagCluster.Grains.Interfaces.Errors.StorageUnavailableException && attempt < 40)
            {
                await Task.Delay(250);
            }
        }
    }
}
