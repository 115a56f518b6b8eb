namespace RagCluster.Tests.Infrastructure;

/// <summary>Waiting on a condition, never on a fixed sleep: polled until true, failed at the deadline.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<Task<bool>> condition, int seconds = 30)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(seconds)) Assert.Fail($"not reached in {seconds} s");
            await Task.Delay(100);
        }
    }
}
