namespace RagCluster.Client;

/// <summary>
/// How many of the oldest waiting documents a client following a bulk ingest asks about in one round. Documents finish
/// roughly in the order they were sent, so the window follows the rate they finish at: it doubles while every document
/// asked about is done (and the next round goes at once), and otherwise becomes twice what finished plus a floor. The
/// CLI's fixed window (the oldest 1,000, every 500 ms while any of them was pending) comes to 2,000 status calls a
/// second on the cluster doing the indexing, and asks about each document 1,000 / r times, r finishing per round.
/// </summary>
public sealed class StatusWindow
{
    private readonly int _min, _max;

    public StatusWindow(int min = 16, int max = RagClusterClient.MaxBatchDocuments)
    {
        if (min < 1 || max < min) throw new ArgumentException("need 1 <= min <= max");
        (_min, _max, Size) = (min, max, min);
    }

    public int Size { get; private set; }

    /// <summary>Takes a round's outcome; true when the next round should go at once (everything asked about was done).</summary>
    public bool Took(int asked, int done)
    {
        if (asked > 0 && done == asked)
        {
            Size = Math.Min(_max, Size * 2);
            return true;
        }
        Size = Math.Clamp(2 * done + _min, _min, _max);
        return false;
    }
}
