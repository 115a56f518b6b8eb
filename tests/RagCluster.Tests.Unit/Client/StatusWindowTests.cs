using RagCluster.Client;

namespace RagCluster.Tests.Rag;

[Trait("Category", "Unit")]
public sealed class StatusWindowTests
{
    [Fact]
    public void It_doubles_while_everything_asked_about_is_done_and_shrinks_to_what_finished()
    {
        var w = new StatusWindow(min: 16, max: 1000);
        Assert.Equal(16, w.Size);
        Assert.True(w.Took(asked: 16, done: 16));
        Assert.Equal(32, w.Size);
        for (var i = 0; i < 10; i++) w.Took(w.Size, w.Size);
        Assert.Equal(1000, w.Size);
        Assert.False(w.Took(asked: 1000, done: 40));
        Assert.Equal(96, w.Size);
        Assert.False(w.Took(asked: 96, done: 0));
        Assert.Equal(16, w.Size);
        Assert.False(w.Took(asked: 0, done: 0)); // nothing waiting yet: wait before the next round
    }

    /// <summary>
    /// 5,000 documents finishing 25 a round, a tenth of them a few rounds late: every one is seen, with a handful of
    /// status asks per document, where the fixed window of 1,000 the CLI used asked about each one dozens of times.
    /// </summary>
    [Fact]
    public void Following_a_bulk_ingest_asks_about_each_document_a_few_times()
    {
        var following = AsksPerDocument(fixedWindow: false);
        Assert.True(following <= 3.0, $"{following:F1} asks a document");
        var fixedThousand = AsksPerDocument(fixedWindow: true);
        Assert.True(fixedThousand >= 30.0, $"{fixedThousand:F1} asks a document with the fixed window");
    }

    // Follows a simulated ingest as the CLI does; a round that is not told to go again at once waits (time passes).
    private static double AsksPerDocument(bool fixedWindow)
    {
        const int documents = 5000, perRound = 25;
        var random = new Random(7);
        // The round each document finishes in: in order, some late.
        var finishes = Enumerable.Range(0, documents).Select(i => i / perRound + (random.Next(10) == 0 ? random.Next(1, 6) : 0)).ToArray();
        var waiting = Enumerable.Range(0, documents).ToList();
        var window = new StatusWindow();
        long asks = 0;
        var seen = 0;
        for (var round = 0; waiting.Count > 0; )
        {
            var asked = waiting.Take(fixedWindow ? 1000 : window.Size).ToList();
            asks += asked.Count;
            var done = asked.Where(d => finishes[d] <= round).ToHashSet();
            seen += done.Count;
            waiting.RemoveAll(done.Contains);
            if (!window.Took(asked.Count, done.Count)) round++;
            Assert.True(round < 10_000, "the follower never caught up");
        }
        Assert.Equal(documents, seen);
        return asks / (double)documents;
    }
}
