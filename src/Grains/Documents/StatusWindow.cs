namespace RagCluster.Grains.Documents;

/// <summary>
/// How many of the oldest waiting documents a client following a bulk ingest asks about in one round. Documents finish
/// roughly in the order they were sent, so the window follows the rate they finish at: it doubles while every document
/// asked about is done (and the next round goes at once), and otherwise becomes twice what finished plus a floor. The
/// CLI's fixed window of 1,000 every 500 ms made 2,000 status calls a second on the cluster doing the indexing (two
/// thirds of them to other silos, on three) and asked about each document 1,000 / r times, r finishing per round.
/// </summary>
public sealed class StatusWindow
{
    private readonly int _min, _max;
    private int _size;

    public StatusWindow(int min = 16, int max = DocumentBatch.MaxDocuments)
    {
        if (min < 1 || max < min) throw new ArgumentException("need 1 <= min <= max");
        (_min, _max, _size) = (min, max, min);
    }

    public int Size => _size;

    /// <summary>Takes a round's outcome; true when the next round should go at once (everything asked about was done).</summary>
    public bool Took(int asked, int done)
    {
        if (asked > 0 && done == asked)
        {
            _size = Math.Min(_max, _size * 2);
            return true;
        }
        _size = Math.Clamp(2 * done + _min, _min, _max);
        return false;
    }
}
