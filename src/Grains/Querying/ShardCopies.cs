using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Indexing;

namespace RagCluster.Grains.Querying;

/// <summary>
/// Reads one copy of a shard: the copies take turns (each query takes the next turn, and its shards start from
/// successive copies, so one query's lexical and dense sides of a shard read the same copy), and a copy that has not
/// answered after its recent p95 (at least <c>Query:HedgeAfterMs</c>) or that fails as a silo does (gone, unreachable,
/// timed out) is joined by the next copy; the first answer wins (Qdrant's read_fan_out_delay_ms, Elasticsearch's adaptive replica selection in small).
/// </summary>
internal sealed class ShardCopies(IGrainFactory grains, TimeSpan hedgeFloor)
{
    private const int Window = 64; // answers per copy the p95 is taken over
    private uint _turn;
    private readonly Dictionary<string, Queue<double>> _answers = new(StringComparer.Ordinal);

    /// <summary>The turn of a query: pass it, plus the shard's number, to each of its shards' reads.</summary>
    public uint NextTurn() => _turn++;

    public async Task<ShardResult> SearchAsync(string shardKey, int copies, ShardQuery query, uint turn, CancellationToken ct)
    {
        if (copies <= 1)
        {
            try
            {
                return await grains.GetGrain<IIndexShardGrain>(shardKey).Search(query);
            }
            catch (Exception e) when (SiloFailed(e))
            {
                throw Unreachable(shardKey, e);
            }
        }
        var first = (int)(turn % (uint)copies);
        var asked = new List<(Task<ShardResult> Answer, string Key, System.Diagnostics.Stopwatch Clock)>();
        Exception? failure = null;
        void Ask()
        {
            var key = ShardLayout.CopyKey(shardKey, (first + asked.Count) % copies);
            asked.Add((grains.GetGrain<IIndexShardGrain>(key).Search(query), key, System.Diagnostics.Stopwatch.StartNew()));
        }
        Ask();
        var pending = new List<Task<ShardResult>> { asked[0].Answer };
        using var answered = CancellationTokenSource.CreateLinkedTokenSource(ct); // ends the hedge timer once an answer is in
        try
        {
            while (true)
            {
                Task hedge = Task.Delay(asked.Count < copies ? HedgeAfter(asked[^1].Key) : Timeout.InfiniteTimeSpan, answered.Token);
                var done = await Task.WhenAny([.. pending, hedge]);
                ct.ThrowIfCancellationRequested();
                if (done == hedge) { Ask(); pending.Add(asked[^1].Answer); continue; }
                var answer = (Task<ShardResult>)done;
                pending.Remove(answer);
                var (_, key, clock) = asked.First(a => a.Answer == answer);
                if (answer.IsCompletedSuccessfully)
                {
                    Record(key, clock.Elapsed.TotalMilliseconds);
                    foreach (var other in pending) other.Ignore(); // a slower copy's answer is not needed
                    return answer.Result;
                }
                var error = answer.Exception!.GetBaseException();
                if (!DocumentRefusal.IsTransient(error) || error is OperationCanceledException) throw error; // e.g. a reshard: the caller reads the layout again
                failure = error;
                if (asked.Count < copies) { Ask(); pending.Add(asked[^1].Answer); }
                else if (pending.Count == 0) throw SiloFailed(failure) ? Unreachable(shardKey, failure) : failure;
            }
        }
        finally
        {
            answered.Cancel();
        }
    }

    /// <summary>The runtime's words for "the silo holding it did not answer" (gone, unreachable, timed out, refused the message).</summary>
    private static bool SiloFailed(Exception e) =>
        e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or Orleans.Runtime.Messaging.ConnectionFailedException;

    // Said in our terms, not the runtime's (whose message names the silo's address and its retry timer).
    private static ShardUnreachableException Unreachable(string shardKey, Exception e) =>
        new($"shard {shardKey} did not answer ({e.GetType().Name}): the silo holding it stopped answering; the shard moves to a live silo once the cluster declares that one dead");

    private TimeSpan HedgeAfter(string copyKey)
    {
        if (!_answers.TryGetValue(copyKey, out var recent) || recent.Count < 8) return hedgeFloor;
        var sorted = recent.Order().ToArray();
        return TimeSpan.FromMilliseconds(Math.Max(hedgeFloor.TotalMilliseconds, sorted[(int)(sorted.Length * 0.95)]));
    }

    private void Record(string copyKey, double ms)
    {
        if (!_answers.TryGetValue(copyKey, out var recent)) _answers[copyKey] = recent = new Queue<double>(Window);
        if (recent.Count == Window) recent.Dequeue();
        recent.Enqueue(ms);
    }
}
