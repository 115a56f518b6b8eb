namespace RagCluster.Storage.GrainRows;

/// <summary>
/// One change to a grain's rows: <see cref="Value"/> null deletes the row. <see cref="OnlyIf"/> makes a delete
/// conditional on the row still holding that value (a sweep forgets a document only if nobody accepted it again).
/// </summary>
public sealed record RowChange(string Set, string Key, byte[]? Value, byte[]? OnlyIf = null);

/// <summary>
/// Where grain row sets live: per grain and name, a small head (what the grain always holds in memory) and keyed
/// rows in named sets (what it must not: a registry of a million documents). A write changes the head and any rows
/// in one transaction, fenced by the owner epoch that grain logs use (the same owner table), so a stale activation
/// writes nothing.
/// </summary>
public interface IGrainRowStore
{
    /// <summary>Makes the caller the owner: a new epoch, higher than any before it.</summary>
    Task<long> ClaimAsync(string grain, string name, CancellationToken ct = default);
    Task<byte[]?> ReadHeadAsync(string grain, string name, CancellationToken ct = default);
    /// <summary>How many rows each set holds (read once per activation; the owner keeps the counts from then on).</summary>
    Task<Dictionary<string, long>> CountAsync(string grain, string name, CancellationToken ct = default);
    /// <summary>Rows of <paramref name="set"/> with keys after <paramref name="after"/>, in ordinal key order.</summary>
    Task<List<(string Key, byte[] Value)>> PageAsync(string grain, string name, string set, string? after, int limit, CancellationToken ct = default);

    /// <summary>The rows of <paramref name="set"/> with these keys (those that exist).</summary>
    Task<Dictionary<string, byte[]>> ReadAsync(string grain, string name, string set, IReadOnlyCollection<string> keys, CancellationToken ct = default);

    /// <summary>
    /// Stores the head and applies the changes (at most one per set and key) in one transaction: all or none.
    /// Returns how many rows each touched set gained (negative: lost).
    /// </summary>
    /// <exception cref="Orleans.Storage.InconsistentStateException">The epoch is stale.</exception>
    Task<Dictionary<string, long>> WriteAsync(string grain, string name, long epoch, byte[] head, IReadOnlyList<RowChange> changes,
        CancellationToken ct = default);
}

/// <summary>Row sets in process memory, for the <c>memory</c> store (tests and throw-away runs).</summary>
public sealed class InMemoryGrainRowStore : IGrainRowStore
{
    private sealed class Rows
    {
        public long Epoch;
        public byte[]? Head;
        public readonly Dictionary<string, SortedDictionary<string, byte[]>> Sets = [];

        public SortedDictionary<string, byte[]> Set(string set) =>
            Sets.TryGetValue(set, out var rows) ? rows : Sets[set] = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
    }

    private readonly Dictionary<(string, string), Rows> _all = [];

    private Rows Get(string grain, string name)
    {
        if (!_all.TryGetValue((grain, name), out var rows)) _all[(grain, name)] = rows = new Rows();
        return rows;
    }

    public Task<long> ClaimAsync(string grain, string name, CancellationToken ct = default)
    {
        lock (_all) return Task.FromResult(++Get(grain, name).Epoch);
    }

    public Task<byte[]?> ReadHeadAsync(string grain, string name, CancellationToken ct = default)
    {
        lock (_all) return Task.FromResult(Get(grain, name).Head);
    }

    public Task<Dictionary<string, long>> CountAsync(string grain, string name, CancellationToken ct = default)
    {
        lock (_all) return Task.FromResult(Get(grain, name).Sets.ToDictionary(s => s.Key, s => (long)s.Value.Count));
    }

    public Task<List<(string Key, byte[] Value)>> PageAsync(string grain, string name, string set, string? after, int limit, CancellationToken ct = default)
    {
        lock (_all)
            return Task.FromResult(Get(grain, name).Set(set).Where(r => after is null || string.CompareOrdinal(r.Key, after) > 0)
                .Take(limit).Select(r => (r.Key, r.Value)).ToList());
    }

    public Task<Dictionary<string, byte[]>> ReadAsync(string grain, string name, string set, IReadOnlyCollection<string> keys, CancellationToken ct = default)
    {
        lock (_all)
        {
            var rows = Get(grain, name).Set(set);
            var found = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var key in keys)
                if (rows.TryGetValue(key, out var value)) found[key] = value;
            return Task.FromResult(found);
        }
    }

    public Task<Dictionary<string, long>> WriteAsync(string grain, string name, long epoch, byte[] head, IReadOnlyList<RowChange> changes,
        CancellationToken ct = default)
    {
        lock (_all)
        {
            var rows = Get(grain, name);
            if (rows.Epoch != epoch) throw RowConflicts.Fenced(grain, name, epoch);
            var gained = new Dictionary<string, long>();
            rows.Head = head;
            foreach (var change in changes)
            {
                var set = rows.Set(change.Set);
                var had = set.TryGetValue(change.Key, out var old);
                if (change.Value is null)
                {
                    if (!had || (change.OnlyIf is not null && !old!.AsSpan().SequenceEqual(change.OnlyIf))) continue;
                    set.Remove(change.Key);
                    gained[change.Set] = gained.GetValueOrDefault(change.Set) - 1;
                }
                else
                {
                    set[change.Key] = change.Value;
                    if (!had) gained[change.Set] = gained.GetValueOrDefault(change.Set) + 1;
                }
            }
            return Task.FromResult(gained);
        }
    }
}

internal static class RowConflicts
{
    public static Orleans.Storage.InconsistentStateException Fenced(string grain, string name, long epoch) =>
        new($"rows '{name}' of {grain}: epoch {epoch} is no longer the owner (another activation took them over)");
}
