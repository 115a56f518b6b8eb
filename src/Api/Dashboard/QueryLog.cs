namespace RagCluster.Api.Dashboard;

public sealed record RecentQuery(DateTimeOffset At, string Tenant, string Collection, string Kind, string Text, string Plan, bool Cached,
    string? CacheTier, double ElapsedMs, int Hits, string? TraceId);

/// <summary>The last queries this API silo served, newest first: what the dashboard lists and links to traces.</summary>
public sealed class QueryLog
{
    public const int Capacity = 200;
    private readonly LinkedList<RecentQuery> _queries = new();

    public void Add(RecentQuery query)
    {
        lock (_queries)
        {
            _queries.AddFirst(query with { Text = query.Text.Length <= 200 ? query.Text : query.Text[..200] + "…" });
            if (_queries.Count > Capacity) _queries.RemoveLast();
        }
    }

    public RecentQuery[] Recent(string? tenant, int max)
    {
        lock (_queries) return _queries.Where(q => tenant is null || q.Tenant == tenant).Take(max).ToArray();
    }
}
