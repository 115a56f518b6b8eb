using Orleans.Storage;
using RagCluster.Storage;
using RagCluster.Storage.GrainLogs;
using RagCluster.Storage.Schema;
using RagCluster.Tests.Infrastructure;
using Xunit;

namespace RagCluster.Tests.Rag;

/// <summary>
/// The grain log store on each database: entries appended in one call (more than one statement's worth on PostgreSQL)
/// read back in order, a sequence number written twice is refused, an owner whose epoch was taken over appends nothing,
/// and a reader that does not own the log sees one moment of it while the owner compacts.
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
        Assert.Equal([g], await store.GrainsAsync(n)); // what a restarted silo wakes
        Assert.Empty(await store.GrainsAsync("other"));
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

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_reader_that_does_not_own_the_log_sees_a_whole_snapshot_and_every_entry_after_it_while_the_owner_compacts(string kind)
    {
        // A shard's copy loads this way while its primary writes: a snapshot taken between the reader's statements once
        // left it with half the pages (a follower that held 69 of its primary's 137 chunks for good).
        var store = await StoreAsync(kind);
        const string g = "shard/t.kb/1", n = "index";
        var epoch = await store.ClaimAsync(g, n);
        static byte[] Page(long seq, int index, int count) => [.. BitConverter.GetBytes(seq), .. BitConverter.GetBytes(index), .. BitConverter.GetBytes(count)];
        static async IAsyncEnumerable<byte[]> Pages(long seq, int count)
        {
            for (var i = 0; i < count; i++) { await Task.Yield(); yield return Page(seq, i, count); }
        }
        using var done = new CancellationTokenSource();
        var owner = Task.Run(async () =>
        {
            try
            {
                for (long last = 0, round = 1; round <= 60; round++)
                {
                    await store.AppendAsync(g, n, epoch, last + 1, [.. Enumerable.Range(1, 3).Select(i => BitConverter.GetBytes(last + i))]);
                    last += 3;
                    await store.WriteSnapshotAsync(g, n, epoch, last - 1, Pages(last - 1, 5 + (int)(round % 7)));
                }
            }
            finally { done.Cancel(); }
        });
        var (reads, problems) = (0, new List<string>());
        while (!done.IsCancellationRequested || reads == 0)
        {
            var (snapshot, entries) = await store.ReadAllAsync(g, n);
            reads++;
            var seq = snapshot?.Seq ?? 0;
            if (snapshot is { Pages: var pages })
            {
                var count = pages.Count > 0 ? BitConverter.ToInt32(pages[0], 12) : -1;
                if (!pages.Select((p, i) => p.SequenceEqual(Page(seq, i, count))).All(ok => ok) || pages.Count != count)
                    problems.Add($"snapshot {seq}: {pages.Count} pages, not the {count} written");
            }
            if (entries.Count > 0 && entries[0].Seq != seq + 1) problems.Add($"snapshot {seq}, then entries from {entries[0].Seq}");
            if (entries.Where((e, i) => e.Seq != seq + 1 + i || BitConverter.ToInt64(e.Data) != e.Seq).Any()) problems.Add($"entries after {seq} not consecutive");
        }
        await owner;
        Assert.True(problems.Count == 0, $"{problems.Count} of {reads} reads: {string.Join("; ", problems.Take(5))}");
    }

    [Fact]
    public async Task Entries_pushed_while_a_follower_reads_the_log_are_taken_once_and_in_order()
    {
        var inner = new InMemoryGrainLogStore();
        const string g = "shard/t.kb/2", n = "index";
        var epoch = await inner.ClaimAsync(g, n);
        byte[][] written = [.. Enumerable.Range(1, 4).Select(i => BitConverter.GetBytes((long)i))];
        await inner.AppendAsync(g, n, epoch, 1, written[..3]);
        var store = new HeldReads(inner);
        var follower = new LogFollower(store, g, n);

        // The follower reads the log from 0 while its primary pushes 1..4 (the copy takes those at once).
        var reading = follower.ReadNewAsync();
        await inner.AppendAsync(g, n, epoch, 4, written[3..]);
        Assert.Equal(written, follower.Accept(1, written));
        store.Release.SetResult();
        Assert.Empty((await reading)!); // 1..3 again, after 4, would put older writes over a newer one
        Assert.Equal(4, follower.Position);
    }

    /// <summary>The store with every entries read held until <see cref="Release"/>, as a slow database holds it.</summary>
    private sealed class HeldReads(IGrainLogStore inner) : IGrainLogStore
    {
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public async Task<List<(long Seq, byte[] Data)>> ReadEntriesAsync(string grain, string logName, long afterSeq, CancellationToken ct = default)
        {
            var entries = await inner.ReadEntriesAsync(grain, logName, afterSeq, ct);
            await Release.Task;
            return entries;
        }
        public Task<long> ClaimAsync(string grain, string logName, CancellationToken ct = default) => inner.ClaimAsync(grain, logName, ct);
        public Task<(long Seq, IReadOnlyList<byte[]> Pages)?> ReadSnapshotAsync(string grain, string logName, CancellationToken ct = default) => inner.ReadSnapshotAsync(grain, logName, ct);
        public Task<((long Seq, IReadOnlyList<byte[]> Pages)? Snapshot, List<(long Seq, byte[] Data)> Entries)> ReadAllAsync(string grain, string logName, CancellationToken ct = default) => inner.ReadAllAsync(grain, logName, ct);
        public Task<long> SnapshotSeqAsync(string grain, string logName, CancellationToken ct = default) => inner.SnapshotSeqAsync(grain, logName, ct);
        public Task<IReadOnlyList<string>> GrainsAsync(string logName, CancellationToken ct = default) => inner.GrainsAsync(logName, ct);
        public Task AppendAsync(string grain, string logName, long epoch, long firstSeq, IReadOnlyList<byte[]> entries, CancellationToken ct = default) => inner.AppendAsync(grain, logName, epoch, firstSeq, entries, ct);
        public Task WriteSnapshotAsync(string grain, string logName, long epoch, long seq, IAsyncEnumerable<byte[]> pages, CancellationToken ct = default) => inner.WriteSnapshotAsync(grain, logName, epoch, seq, pages, ct);
    }
}
