using System.Text.Json;
using Orleans;
using Orleans.Runtime;
using RagCluster.Hosting.Diagnostics;

namespace RagCluster.Api.Dashboard;

/// <summary>
/// Asks every member silo for its report (activations by grain type, load, method statistics) and, for a trace,
/// the spans it recorded, through a <see cref="ISiloDiagnosticsGrain"/> placed on each silo, so it sees the whole
/// cluster, not just the API silo. A member that does not answer in time is shown as unreachable, never waited on.
/// </summary>
public sealed class ClusterInspector(IClusterMembershipService membership, ILocalSiloDetails self, IGrainFactory grains, ILogger<ClusterInspector> log)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public sealed record SiloView(string SiloId, string Address, string Status, long HeartbeatAgeMs, bool Local, bool Reachable,
        Dictionary<string, int> Activations, Dictionary<string, int> Queued, JsonElement? Load, MethodStat[] Methods)
    {
        /// <summary>The silo's roles, model, device and embedding throughput; null when it did not answer.</summary>
        public RagCluster.Grains.Interfaces.Rag.EmbeddingInfo? Embedding { get; init; }
    }

    private IEnumerable<ClusterMember> LiveMembers() => membership.CurrentSnapshot.Members.Values.Where(m => m.Status != SiloStatus.Dead);

    public async Task<SiloView[]> SilosAsync()
    {
        var views = await Task.WhenAll(LiveMembers().Select(async m =>
        {
            var id = m.SiloAddress.ToString();
            var local = m.SiloAddress.Equals(self.SiloAddress);
            try
            {
                var report = await grains.GetGrain<ISiloDiagnosticsGrain>(m.SiloAddress.ToParsableString()).GetReport().WaitAsync(Timeout);
                // Orleans' membership keeps an IAmAlive time per silo but does not expose it here; 0 means "not reported".
                return new SiloView(id, m.SiloAddress.Endpoint.ToString(), m.Status.ToString(), 0, local, true, report.Activations, [],
                    JsonDocument.Parse(report.LoadJson).RootElement.Clone(), report.Methods) { Embedding = report.Embedding };
            }
            catch (Exception e) when (e is TimeoutException or SiloUnavailableException or OrleansException)
            {
                log.LogDebug("silo {Silo} did not report its status: {Error}", id, e.Message);
                return new SiloView(id, m.SiloAddress.Endpoint.ToString(), m.Status.ToString(), 0, local, false, [], [], null, []);
            }
        }));
        return views.OrderBy(v => v.SiloId, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Every span of the trace, from every silo that recorded part of it, in start order.</summary>
    public async Task<RecordedSpan[]> TraceAsync(string traceId)
    {
        var parts = await Task.WhenAll(LiveMembers().Select(async m =>
        {
            try
            {
                return await grains.GetGrain<ISiloDiagnosticsGrain>(m.SiloAddress.ToParsableString()).GetSpans(traceId).WaitAsync(Timeout);
            }
            catch (Exception e) when (e is TimeoutException or SiloUnavailableException or OrleansException)
            {
                return [];
            }
        }));
        // In-process silos share one recorder: the same span can come back from several of them.
        return parts.SelectMany(p => p).DistinctBy(s => s.SpanId).OrderBy(s => s.Start).ToArray();
    }
}
