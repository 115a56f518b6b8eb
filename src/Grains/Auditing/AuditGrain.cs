using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Auditing;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Storage.GrainLogs;
using RagCluster.Storage.GrainRows;

namespace RagCluster.Grains.Auditing;

/// <summary>
/// One UTC day of the audit trail, append-only. Each entry is a stored row written before the call returns, so a crash
/// loses nothing acknowledged; the grain holds none of them in memory (a busy day is millions of entries). Row keys
/// sort newest first, so a query reads pages from its end time back and stops at its limit or its start time.
/// Days written before entries became rows are in the grain's log, read once per activation (those days are done).
/// </summary>
public sealed class AuditGrain([PersistentRows("audit-rows")] IPersistentRows rows, [PersistentLog("audit")] IPersistentLog legacy, Serializer serializer)
    : Grain, IAuditGrain
{
    private const string Entries = "entries";
    private const int Page = 500;
    private List<AuditEntry> _legacy = [];
    private uint _sequence = (uint)Random.Shared.Next();


    // Newest first in key order: ticks counted back from the end of time, then a sequence for entries of one tick.
    private static long Inverted(DateTimeOffset at) => DateTime.MaxValue.Ticks - at.UtcTicks;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await rows.ReadAsync(cancellationToken);
        var (_, entries) = await legacy.ReadAsync(cancellationToken);
        _legacy = entries.Select(e => serializer.Deserialize<AuditEntry>(e)!).ToList();
    }

    public async Task Append(AuditEntry entry)
    {
        if (AuditDayKey.Of(entry.At) != this.GetPrimaryKeyString())
            throw new InvalidRequestException($"entry of {AuditDayKey.Of(entry.At)} sent to audit day {this.GetPrimaryKeyString()}");
        var key = $"{Inverted(entry.At):D19}.{unchecked(_sequence++):x8}";
        await rows.WriteAsync([], [new RowChange(Entries, key, serializer.SerializeToArray(entry))]);
    }

    /// <summary>Newest first: pages of rows from <see cref="AuditQuery.To"/> back to <see cref="AuditQuery.From"/>, at most the limit.</summary>
    public async Task<AuditEntry[]> Query(AuditQuery query)
    {
        var result = new List<AuditEntry>();
        // Just before the first key of To's tick: '~' sorts after every sequence digit.
        var after = $"{Inverted(query.To) - 1:D19}.~";
        while (result.Count < query.Limit)
        {
            var page = await rows.PageAsync(Entries, after, Page);
            foreach (var (_, value) in page)
            {
                var e = serializer.Deserialize<AuditEntry>(value)!;
                if (e.At < query.From) return [.. Merge(result, query)];
                if (Matches(e, query) && result.Count < query.Limit) result.Add(e);
            }
            if (page.Count < Page) break;
            after = page[^1].Key;
        }
        return [.. Merge(result, query)];
    }

    private static bool Matches(AuditEntry e, AuditQuery query) =>
        e.At >= query.From && e.At <= query.To && (query.Tenant is null || e.Tenant == query.Tenant) && (query.KeyId is null || e.KeyId == query.KeyId);

    // A day from before the upgrade has its entries in the log; the day of the upgrade has both kinds, merged by time.
    private IEnumerable<AuditEntry> Merge(List<AuditEntry> fromRows, AuditQuery query) =>
        _legacy.Count == 0 ? fromRows
            : fromRows.Concat(_legacy.Where(e => Matches(e, query))).OrderByDescending(e => e.At).Take(query.Limit);
}
