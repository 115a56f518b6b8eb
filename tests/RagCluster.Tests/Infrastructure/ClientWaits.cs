using RagCluster.Client;

namespace RagCluster.Tests.Infrastructure;

public static class ClientWaits
{
    /// <summary>
    /// Each document's status once it settled (indexed, failed or notFound), polled every 100 ms; the wait is cancelled
    /// (and the test fails) after <paramref name="seconds"/>.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, DocumentStatusReply>> SettledAsync(this RagClusterClient client, string collection,
        IEnumerable<string> ids, int seconds = 30)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        return await client.WaitForIndexedAsync(collection, ids, pollInterval: TimeSpan.FromMilliseconds(100), ct: deadline.Token);
    }
}
