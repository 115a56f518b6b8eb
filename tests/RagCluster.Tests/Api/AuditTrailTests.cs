using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using RagCluster.Grains.Auditing;
using RagCluster.Grains.Interfaces.Auditing;
using RagCluster.Storage;
using RagCluster.Storage.GrainLogs;
using RagCluster.Storage.Schema;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// A day of the audit trail is stored rows, none held in memory: queries read pages newest first from their end time
/// and stop at their limit or start time, and what they return survives a restart. Days from before the rows (the grain's log) still answer.
/// </summary>
public sealed class AuditTrailTests
{
    [Fact]
    public async Task A_day_is_queried_newest_first_by_time_window_tenant_and_key_from_stored_rows()
    {
        var serviceId = "audit-" + Guid.NewGuid().ToString("N")[..6];
        var day = new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);
        var key = AuditDayKey.Of(day);
        AuditEntry Entry(int i) => new(day.AddSeconds(i * 10), $"k{i % 3}", i % 2 == 0 ? "acme" : "globex", "writer", "POST /v1/x", $"/v1/x/{i}", 202, null);
        // The store as the version before rows left it: two entries of this day in the grain's log.
        var dir = Directory.CreateTempSubdirectory("rc-audit").FullName;
        var store = StoreLocation.Parse($"sqlite:{Path.Combine(dir, "audit.db")}");
        await DatabaseSchema.ApplyAsync(store);
        var serializer = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(AuditEntry).Assembly)).BuildServiceProvider().GetRequiredService<Serializer>();
        var old = new PersistentLog(new SqlGrainLogStore(store, serviceId), $"audit/{key}", "audit");
        await old.ReadAsync();
        await old.AppendAsync([serializer.SerializeToArray(Entry(1201)), serializer.SerializeToArray(Entry(1203))]);
        await using var cluster = await RagTestCluster.StartAsync(1, $"sqlite:{Path.Combine(dir, "audit.db")}", null, serviceId);
        var audit = cluster.Grains.GetGrain<IAuditGrain>(key);
        // 1,200 entries, ten seconds apart, appended out of order: the keys, not the arrival, give the order.
        foreach (var i in Enumerable.Range(0, 1200).OrderBy(i => (i * 7919) % 1200)) await audit.Append(Entry(i));
        await cluster.KillAsync(cluster.Cluster.Primary!); // no deactivation: what a query reads is what was stored
        await using var restarted = await RagTestCluster.StartAsync(1, cluster.Storage, null, serviceId);
        var grain = restarted.Grains.GetGrain<IAuditGrain>(key);

        var newest = await grain.Query(new AuditQuery(day, day.AddDays(1), null, null, 10));
        Assert.Equal(new[] { 1203, 1201 }.Concat(Enumerable.Range(1192, 8).Reverse()).Select(i => $"/v1/x/{i}"), newest.Select(e => e.Target));

        // A window in the middle, across page boundaries (500 rows a page), for one tenant and one key.
        var window = await grain.Query(new AuditQuery(day.AddSeconds(3000), day.AddSeconds(9000), "acme", "k0", 1000));
        var expected = Enumerable.Range(300, 601).Where(i => i % 2 == 0 && i % 3 == 0).Reverse().Select(i => $"/v1/x/{i}").ToList();
        Assert.Equal(expected, window.Select(e => e.Target));
        Assert.Empty(await grain.Query(new AuditQuery(day.AddDays(1), day.AddDays(2), null, null, 10)));
    }
}
