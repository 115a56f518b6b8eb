using System.Text.Json;
using RagCluster.Runtime;
using RagCluster.Runtime.Hosting;
using RagCluster.Runtime.Diagnostics;

namespace RagCluster.Api.Dashboard;

/// <summary>
/// Asks every member silo for its status (activations and queues by grain type, load, method statistics) and,
/// for a trace, the spans it recorded — over the silos' own h2c endpoints, so it sees the whole cluster, not just
/// the API silo. A member that does not answer in time is shown as unreachable, never waited on.
/// </summary>
public sealed class ClusterInspector(Silo silo, ILogger<ClusterInspector> log)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public sealed record SiloView(string SiloId, string Address, string Status, long HeartbeatAgeMs, bool Local, bool Reachable,
        Dictionary<string, int> Activations, Dictionary<string, int> Queued, JsonElement? Load, MethodStat[] Methods);

    public async Task<SiloView[]> SilosAsync()
    {
        var views = await Task.WhenAll(LiveMembers().Select(async m =>
        {
            try
            {
                var status = JsonDocument.Parse(await silo.GetMemberStatusAsync(m.Address, Timeout)).RootElement;
                return new SiloView(m.SiloId, m.Address, m.Status.ToString(), m.HeartbeatAgeMs, m.SiloId == silo.SiloId, true,
                    status.GetProperty("activations").Deserialize<Dictionary<string, int>>(Json)!,
                    status.GetProperty("queued").Deserialize<Dictionary<string, int>>(Json)!,
                    status.GetProperty("load").Clone(), status.GetProperty("methods").Deserialize<MethodStat[]>(Json)!);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException or KeyNotFoundException)
            {
                log.LogDebug("silo {Silo} did not report its status: {Error}", m.SiloId, e.Message);
                return new SiloView(m.SiloId, m.Address, m.Status.ToString(), m.HeartbeatAgeMs, m.SiloId == silo.SiloId, false, [], [], null, []);
            }
        }));
        return views.OrderBy(v => v.SiloId, StringComparer.Ordinal).ToArray();
    }

    private IEnumerable<Runtime.Membership.MembershipEntry> LiveMembers() => silo.Members.Where(m => m.Status != Runtime.Membership.SiloStatus.Dead);

    /// <summary>Every span of the trace, from every silo that recorded part of it, in start order.</summary>
    public async Task<RecordedSpan[]> TraceAsync(string traceId)
    {
        var parts = await Task.WhenAll(LiveMembers().Select(async m =>
        {
            try
            {
                return JsonSerializer.Deserialize<RecordedSpan[]>(await silo.GetMemberSpansAsync(m.Address, traceId, Timeout), Json) ?? [];
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException)
            {
                return [];
            }
        }));
        // In-process silos share one recorder: the same span can come back from several of them.
        return parts.SelectMany(p => p).DistinctBy(s => s.SpanId).OrderBy(s => s.Start).ToArray();
    }
}
