using RagCluster.Grains.Caching;

namespace RagCluster.Tests.Rag;

/// <summary>The bookkeeping both cache tiers share: least recently used out first, past a count or a byte total.</summary>
[Trait("Category", "Unit")]
public sealed class BoundedLruTests
{
    [Fact]
    public void Past_the_count_the_least_recently_used_goes_first()
    {
        var lru = new BoundedLru<int>(capacity: 3, maxBytes: 1000);
        var evicted = new List<string>();
        foreach (var k in new[] { "a", "b", "c" }) lru.Set(k, k[0], 10, evicted.Add);
        Assert.True(lru.TryGet("a", out _)); // "a" is used, so "b" is now the oldest
        lru.Set("d", 'd', 10, evicted.Add);
        Assert.Equal(["b"], evicted);
        Assert.Equal(["a", "c", "d"], lru.Keys.Order());
        Assert.Equal(30, lru.Bytes);
    }

    [Fact]
    public void Past_the_bytes_as_many_go_as_it_takes_and_a_replaced_value_counts_once()
    {
        var lru = new BoundedLru<string>(capacity: 100, maxBytes: 100);
        var evicted = new List<string>();
        lru.Set("a", "1", 40, evicted.Add);
        lru.Set("b", "2", 40, evicted.Add);
        lru.Set("a", "1 again", 50, evicted.Add); // replaces: 90 bytes, nothing out
        Assert.Empty(evicted);
        Assert.Equal(90, lru.Bytes);
        lru.Set("c", "3", 60, evicted.Add); // 150: "b" (oldest) and then "a" go
        Assert.Equal(["b", "a"], evicted);
        Assert.Equal((1, 60L), (lru.Count, lru.Bytes));
        Assert.True(lru.TryPeek("c", out var c) && c == "3");
    }

    [Fact]
    public void A_value_larger_than_the_bound_is_not_kept_and_does_not_empty_the_cache()
    {
        var lru = new BoundedLru<int>(capacity: 10, maxBytes: 100);
        var evicted = new List<string>();
        lru.Set("small", 1, 30, evicted.Add);
        lru.Set("big", 2, 30, evicted.Add);
        lru.Set("big", 3, 101, evicted.Add); // its older value goes too: a reader must not get it after this set
        Assert.Equal(["big"], evicted);
        Assert.False(lru.TryGet("big", out _));
        Assert.True(lru.TryGet("small", out _));
        Assert.Equal(30, lru.Bytes);
    }

    [Fact]
    public void Entries_read_back_in_stored_order_are_the_oldest_and_a_trim_keeps_the_first_read()
    {
        var lru = new BoundedLru<int>(capacity: 2, maxBytes: 1000);
        lru.Set("new", 0, 1);
        Assert.True(lru.AddOldest("s1", 1, 1));
        Assert.True(lru.AddOldest("s2", 2, 1));
        Assert.False(lru.AddOldest("new", 9, 1)); // already present: kept as it is
        var evicted = new List<string>();
        lru.Trim(evicted.Add);
        Assert.Equal(["s2"], evicted);
        Assert.True(lru.TryPeek("new", out var kept) && kept == 0);
    }
}
