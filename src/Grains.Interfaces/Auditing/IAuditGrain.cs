namespace RagCluster.Grains.Interfaces.Auditing;

/// <summary>Key: the UTC day, "yyyy-MM-dd". Who did what, when: writes and admin actions, append-only.</summary>
[Alias("rc.IAuditGrain")]
public interface IAuditGrain : IGrainWithStringKey
{
    Task Append(AuditEntry entry);
    Task<AuditEntry[]> Query(AuditQuery query);
}
