using RagCluster.Storage.GrainLogs;

namespace RagCluster.Tests.Rag;

/// <summary>A snapshot on its way to storage: bounded memory, and a failure on either side ends both.</summary>
[Trait("Category", "Unit")]
public sealed class SnapshotPipeTests
{
    private static Task RunOnThread(Action work) => Task.Factory.StartNew(work, TaskCreationOptions.LongRunning);

    private static void WriteBytes(Stream output, int count)
    {
        var block = new byte[1000];
        for (var written = 0; written < count; written += block.Length)
        {
            for (var i = 0; i < block.Length; i++) block[i] = (byte)(written + i);
            output.Write(block, 0, Math.Min(block.Length, count - written));
        }
    }

    [Fact]
    public async Task Pages_arrive_in_order_and_whole_while_at_most_three_buffers_exist()
    {
        var stored = new List<byte[]>();
        var buffers = new HashSet<byte[]>(ReferenceEqualityComparer.Instance);
        var length = await SnapshotPipe.RunAsync(RunOnThread, output => WriteBytes(output, 100_500), async pages =>
        {
            await foreach (var page in pages)
            {
                buffers.Add(page);
                stored.Add(page.ToArray());
                await Task.Yield(); // storage is slower than the writer
            }
        }, pageBytes: 4096);

        Assert.Equal(100_500, length);
        Assert.Equal(25, stored.Count); // 24 full pages and 2,196 bytes
        Assert.All(stored.Take(24), p => Assert.Equal(4096, p.Length));
        Assert.Equal(100_500 - 24 * 4096, stored[^1].Length);
        var all = stored.SelectMany(p => p).ToArray();
        Assert.All(Enumerable.Range(0, all.Length), i => Assert.Equal((byte)i, all[i]));
        Assert.True(buffers.Count(b => b.Length == 4096) <= SnapshotPipe.Buffers, $"{buffers.Count} page buffers");
    }

    [Fact]
    public async Task Pages_come_from_the_pool_and_every_snapshot_failed_or_not_gives_them_back()
    {
        // A pool holding exactly one pipe's pages, all known: a page a snapshot kept would make the next allocate one.
        var pool = System.Buffers.ArrayPool<byte>.Create(maxArrayLength: 4096, maxArraysPerBucket: SnapshotPipe.Buffers);
        var known = Enumerable.Range(0, SnapshotPipe.Buffers).Select(_ => pool.Rent(4096)).ToList();
        known.ForEach(page => pool.Return(page));
        var seen = new HashSet<byte[]>(ReferenceEqualityComparer.Instance);
        Task<long> Snapshot(bool failStore) => SnapshotPipe.RunAsync(RunOnThread, output => WriteBytes(output, 50_000), async pages =>
        {
            var stored = 0;
            await foreach (var page in pages)
            {
                if (page.Length == 4096) seen.Add(page); // the last page is its own, shorter array
                if (failStore && ++stored == 2) throw new IOException("disk full");
                await Task.Delay(5); // storage is slower than the writer, so the writer takes every buffer it may
            }
        }, pageBytes: 4096, pool: pool);

        await Assert.ThrowsAsync<IOException>(() => Snapshot(failStore: true));
        Assert.Equal(50_000, await Snapshot(failStore: false));
        Assert.Equal(50_000, await Snapshot(failStore: false)); // the one before gave its pages back too

        Assert.NotEmpty(seen);
        Assert.Subset(new HashSet<byte[]>(known, ReferenceEqualityComparer.Instance), seen);
    }

    [Fact]
    public async Task A_failing_store_frees_a_writer_that_waits_for_room()
    {
        var writerFailed = new TaskCompletionSource<Exception>();
        var run = SnapshotPipe.RunAsync(work => RunOnThread(() =>
        {
            try { work(); }
            catch (Exception e) { writerFailed.TrySetResult(e); throw; }
        }), output => WriteBytes(output, 1 << 20), async pages =>
        {
            await foreach (var _ in pages) throw new IOException("disk full");
        }, pageBytes: 4096);

        var error = await Assert.ThrowsAsync<IOException>(() => run);
        Assert.Equal("disk full", error.Message);
        Assert.IsAssignableFrom<OperationCanceledException>(await writerFailed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_failing_writer_fails_the_store_before_its_last_page()
    {
        var storedPages = 0;
        var run = SnapshotPipe.RunAsync(RunOnThread, output =>
        {
            WriteBytes(output, 10_000);
            throw new InvalidDataException("a shard changed under its snapshot");
        }, async pages =>
        {
            await foreach (var _ in pages) storedPages++;
        }, pageBytes: 4096);

        await Assert.ThrowsAsync<InvalidDataException>(() => run);
        Assert.True(storedPages <= 2, "the partial last page never reaches storage");
    }
}
