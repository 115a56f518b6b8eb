using RagCluster.Grains.Diagnostics;

namespace RagCluster.Tests.Rag;

[Trait("Category", "Unit")]
public sealed class RateWindowTests
{
    [Fact]
    public void The_rate_covers_the_last_ten_full_seconds_and_forgets_older_ones()
    {
        var w = new RateWindow(10);
        for (long t = 100; t < 110; t++) w.Add(30, t);       // 30 per second for 10 s
        w.Add(1000, 110);                                      // the current, partial second is not counted yet
        Assert.Equal(30, w.PerSecond(110));
        Assert.Equal(127, w.PerSecond(111));                   // 100..109 minus 100, plus 1000 at 110: (270 + 1000) / 10
        Assert.Equal(0, w.PerSecond(200));                     // long idle: nothing recent
        w.Add(5, 200);                                         // a bucket reused after wrapping starts from zero
        Assert.Equal(0.5, w.PerSecond(201));
    }
}
