using System.Text.Json;
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
        public RagCluster.Grains.Interfaces.Embedding.EmbeddingInfo? Embedding { get; init; }
    }

    private IEnumerable<ClusterMember> LiveMembers() => membership.CurrentSnapshot.Members.Values.Where(m => m.Status != SiloStatus.Dead);

    public async Task<SiloView[]> SilosAsync()
    {
        var answers = await AskEachAsync(g => g.GetReport());
        return answers.Select(a =>
        {
            var (m, report) = a;
            var (id, address, local) = (m.SiloAddress.ToString(), m.SiloAddress.Endpoint.ToString(), m.SiloAddress.Equals(self.SiloAddress));
            // Orleans' membership keeps an IAmAlive time per silo but does not expose it here; 0 means "not reported".
            return report is null
                ? new SiloView(id, address, m.Status.ToString(), 0, local, false, [], [], null, [])
                : new SiloView(id, address, m.Status.ToString(), 0, local, true, report.Activations, [],
                    JsonDocument.Parse(report.LoadJson).RootElement.Clone(), report.Methods) { Embedding = report.Embedding };
        }).OrderBy(v => v.SiloId, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Every span of the trace, from every silo that recorded part of it, in start order.</summary>
    public async Task<RecordedSpan[]> TraceAsync(string traceId) =>
        // In-process silos share one recorder: the same span can come back from several of them.
        (await AskEachAsync(g => g.GetSpans(traceId))).SelectMany(a => a.Answer ?? []).DistinctBy(s => s.SpanId).OrderBy(s => s.Start).ToArray();

    /// <summary>Each answering silo's embedding (roles, model, device, throughput), without the rest of its report.</summary>
    public async Task<RagCluster.Grains.Interfaces.Embedding.EmbeddingInfo[]> EmbeddingAsync() =>
        (await AskEachAsync(g => g.GetEmbedding())).Where(a => a.Answer is not null).Select(a => a.Answer!).OrderBy(e => e.Silo, StringComparer.Ordinal).ToArray();

    /// <summary>Asks every live member's diagnostics grain at once; a member that does not answer in time answers null.</summary>
    private async Task<(ClusterMember Member, T? Answer)[]> AskEachAsync<T>(Func<ISiloDiagnosticsGrain, Task<T>> ask) where T : class =>
        await Task.WhenAll(LiveMembers().Select(async m =>
        {
            try
            {
                return (m, (T?)await ask(grains.GetGrain<ISiloDiagnosticsGrain>(m.SiloAddress.ToParsableString())).WaitAsync(Timeout));
            }
            catch (Exception e) when (e is TimeoutException or SiloUnavailableException or OrleansException)
            {
                log.SiloDidNotAnswer(m.SiloAddress, e.Message);
                return (m, null);
            }
        }));
}
