using RagCluster.Grains.Interfaces.Rag;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization;
using RagCluster.Storage.GrainLogs;

namespace RagCluster.Grains.Auditing;

/// <summary>
/// One UTC day of the audit trail. Entries are appended to the grain's log and never rewritten (no snapshots:
/// an audit trail is append-only, and a day's log is bounded by that day's writes), so a crash loses nothing
/// that was acknowledged.
/// </summary>
public sealed class AuditGrain([PersistentLog("audit")] IPersistentLog log, Serializer serializer) : Grain, IAuditGrain
{
    private readonly List<AuditEntry> _entries = [];

    public static string KeyFor(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var (_, entries) = await log.ReadAsync(cancellationToken);
        foreach (var e in entries) _entries.Add(serializer.Deserialize<AuditEntry>(e)!);
    }

    public async Task Append(AuditEntry entry)
    {
        if (KeyFor(entry.At) != this.GetPrimaryKeyString()) throw new ArgumentException($"entry of {KeyFor(entry.At)} sent to audit day {this.GetPrimaryKeyString()}");
        await log.AppendAsync(serializer.SerializeToArray(entry));
        _entries.Add(entry);
    }

    /// <summary>Newest first.</summary>
    public Task<AuditEntry[]> Query(AuditQuery query)
    {
        var result = new List<AuditEntry>();
        for (var i = _entries.Count - 1; i >= 0 && result.Count < query.Limit; i--)
        {
            var e = _entries[i];
            if (e.At < query.From || e.At > query.To) continue;
            if (query.Tenant is not null && e.Tenant != query.Tenant) continue;
            if (query.KeyId is not null && e.KeyId != query.KeyId) continue;
            result.Add(e);
        }
        return Task.FromResult(result.ToArray());
    }
}
