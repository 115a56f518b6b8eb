using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using RagCluster.Grains.Indexing;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>A shard's memory of removed documents is bounded by time, not by every delete it ever saw (issue 35, item 5).</summary>
[Trait("Category", "Unit")]
public sealed class TombstoneTests
{
    [Fact]
    public void A_tombstone_lives_at_least_one_retention_period_and_at_most_two()
    {
        var clock = new ManualClock();
        var retention = TimeSpan.FromMinutes(10);
        var tombstones = new Tombstones(retention, clock);
        for (var i = 0; i < 10_000; i++) tombstones.Set($"d{i}", i + 1);
        Assert.Equal(10_000, tombstones.Count);

        // Within the period every removal is still known, so a late write of an older version is still refused.
        clock.Now += retention - TimeSpan.FromSeconds(1);
        tombstones.Rotate();
        Assert.True(tombstones.TryGet("d42", out var v) && v == 43);

        // One period on, they move to the older generation and are still known; a new removal starts the newer one.
        clock.Now += TimeSpan.FromSeconds(2);
        tombstones.Rotate();
        tombstones.Set("late", 7);
        Assert.Equal(10_001, tombstones.Count);
        Assert.True(tombstones.TryGet("d9999", out _));

        // Another period: the first 10,000 are gone, the later one stays until its own time.
        clock.Now += retention;
        tombstones.Rotate();
        Assert.Equal(1, tombstones.Count);
        Assert.False(tombstones.TryGet("d42", out _));
        Assert.True(tombstones.TryGet("late", out _));

        // A removal that comes back (the document written again) forgets its tombstone at once.
        tombstones.Remove("late");
        Assert.Equal(0, tombstones.Count);
    }

    [Fact]
    public void After_a_long_quiet_both_generations_go_at_the_first_write()
    {
        var clock = new ManualClock();
        var tombstones = new Tombstones(TimeSpan.FromMinutes(10), clock);
        tombstones.Set("a", 1);
        clock.Now += TimeSpan.FromHours(5);
        tombstones.Set("b", 2); // the writer rotates before it changes anything
        Assert.Equal(["b"], tombstones.All.Select(t => t.Key).ToArray());
    }

    [Fact]
    public void Retention_below_a_second_is_refused_at_start()
    {
        var e = Assert.Throws<ArgumentException>(() => new ShardOptions { TombstoneRetention = TimeSpan.FromMilliseconds(10) }.Validate());
        Assert.Contains("Shards:TombstoneRetention", e.Message);
    }
}

/// <summary>A document's pending content is not copied on each of its state changes (issue 35, item 5).</summary>
[Trait("Category", "Unit")]
public sealed class DocumentStateCopyTests
{
    [Fact]
    public void A_state_change_shares_the_pending_content_and_copies_the_rest()
    {
        var copier = new Microsoft.Extensions.DependencyInjection.ServiceCollection()
            .AddSerializer(b => b.AddAssembly(typeof(RagCluster.Grains.Documents.DocumentState).Assembly))
            .BuildServiceProvider().GetRequiredService<Orleans.Serialization.DeepCopier>();
        var state = new RagCluster.Grains.Documents.DocumentState { PendingContent = new byte[64 << 20], Tags = new() { ["k"] = "v" }, Version = 3 };
        copier.Copy(new RagCluster.Grains.Documents.DocumentState { PendingContent = [1] }); // the copier's first use builds its codecs
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var copy = copier.Copy(state);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Assert.Same(state.PendingContent, copy.PendingContent);
        Assert.True(allocated < 1 << 20, $"a copy of a state with 64 MiB pending allocated {allocated:N0} bytes");
        // What the grain does change in place is still copied: a change to the copy leaves the stored state as it was.
        Assert.NotSame(state, copy);
        Assert.NotSame(state.Tags, copy.Tags);
        copy.Tags["k"] = "changed";
        Assert.Equal("v", state.Tags["k"]);
    }
}
