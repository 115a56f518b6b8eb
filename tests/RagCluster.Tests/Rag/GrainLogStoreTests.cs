using Orleans.Storage;
using RagCluster.Storage;
using RagCluster.Storage.GrainLogs;
using RagCluster.Storage.Schema;
using RagCluster.Tests.Infrastructure;
using Xunit;

namespace RagCluster.Tests.Rag;

/// <summary>
/// The grain log store on each database: entries appended in one call (more than one statement's worth on PostgreSQL)
/// read back in order, a sequence number written twice is refused, and an owner whose epoch was taken over appends nothing.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class GrainLogStoreTests(PostgresFixture postgres)
{
    private async Task<IGrainLogStore> StoreAsync(string kind)
    {
        var location = StoreLocation.Parse(kind == "sqlite"
            ? $"sqlite:{Path.Combine(Directory.CreateTempSubdirectory("rc-logs").FullName, "logs.db")}"
            : await postgres.NewDatabaseAsync());
        await DatabaseSchema.ApplyAsync(location);
        return new SqlGrainLogStore(location, "logs-test");
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Appends_read_back_in_order_and_a_stale_owner_or_a_written_seq_is_refused(string kind)
    {
        var store = await StoreAsync(kind);
        const string g = "shard/t.kb/0", n = "index";
        var first = await store.ClaimAsync(g, n);
        var entries = Enumerable.Range(1, 600).Select(i => BitConverter.GetBytes(i)).ToList();
        await store.AppendAsync(g, n, first, 1, entries);
        await store.AppendAsync(g, n, first, 601, [[7, 7]]);

        var read = await store.ReadEntriesAsync(g, n, 0);
        Assert.Equal(Enumerable.Range(1, 601).Select(i => (long)i), read.Select(e => e.Seq));
        Assert.Equal(entries.Append([7, 7]), read.Select(e => e.Data));

        // A batch that reaches a written seq is refused whole: 603 is written, so 604 of the same batch is not kept.
        await store.AppendAsync(g, n, first, 602, [[1], [2]]);
        await Assert.ThrowsAsync<InconsistentStateException>(() => store.AppendAsync(g, n, first, 603, [[3], [3]]));
        Assert.Equal(603, (await store.ReadEntriesAsync(g, n, 0)).Max(e => e.Seq));

        var second = await store.ClaimAsync(g, n);
        Assert.True(second > first);
        await Assert.ThrowsAsync<InconsistentStateException>(() => store.AppendAsync(g, n, first, 604, [[4]]));
        Assert.DoesNotContain(await store.ReadEntriesAsync(g, n, 0), e => e.Seq == 604);
        await store.AppendAsync(g, n, second, 604, [[4]]);
        Assert.Equal(604, (await store.ReadEntriesAsync(g, n, 603)).Single().Seq);
    }
}
