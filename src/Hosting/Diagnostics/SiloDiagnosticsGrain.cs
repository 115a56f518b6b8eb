using RagCluster.Grains.Placement;

namespace RagCluster.Hosting.Diagnostics;

/// <summary>What one silo says about itself: activations by grain type, process load (JSON), and per-method call statistics.</summary>
[GenerateSerializer, Immutable, Alias("rc.SiloReport")]
public sealed record SiloReport(string Silo, Dictionary<string, int> Activations, string LoadJson, MethodStat[] Methods)
{
    /// <summary>The silo's embedding: roles, model, device and throughput.</summary>
    [Id(4)] public RagCluster.Grains.Interfaces.Embedding.EmbeddingInfo? Embedding { get; init; }
}

/// <summary>Key: a silo address (<c>SiloAddress.ToParsableString()</c>); the activation lives on that silo.</summary>
[Alias("rc.ISiloDiagnosticsGrain")]
public interface ISiloDiagnosticsGrain : IGrainWithStringKey
{
    Task<SiloReport> GetReport();
    /// <summary>Spans of the trace that this silo's process recorded.</summary>
    Task<RecordedSpan[]> GetSpans(string traceId);
    /// <summary>The membership as this silo sees it: silo address → status (Active, Dead, ...).</summary>
    Task<Dictionary<string, string>> GetMembershipView();
    /// <summary>This silo's embedding alone (what /v1/embedding shows), without reading activations and load.</summary>
    Task<RagCluster.Grains.Interfaces.Embedding.EmbeddingInfo> GetEmbedding();
}

[SiloTargetedPlacement]
internal sealed class SiloDiagnosticsGrain(ActivationCounts activations, ProcessLoad load, ILocalSiloDetails silo, IClusterMembershipService membership,
    RagCluster.Grains.Embedding.Embedder embedder) : Grain, ISiloDiagnosticsGrain
{
    // The embedding as it is: a model not loaded yet is reported so, not loaded for the report.
    public async Task<SiloReport> GetReport() =>
        new(silo.SiloAddress.ToString(), await activations.ReadAsync(), System.Text.Json.JsonSerializer.Serialize(load.Sample(), JsonWeb), MethodStats.Snapshot())
        {
            Embedding = embedder.Info(silo.SiloAddress.ToString()),
        };

    public Task<RagCluster.Grains.Interfaces.Embedding.EmbeddingInfo> GetEmbedding() => Task.FromResult(embedder.Info(silo.SiloAddress.ToString()));

    public Task<RecordedSpan[]> GetSpans(string traceId) => Task.FromResult(SpanRecorder.ForTrace(traceId));

    public Task<Dictionary<string, string>> GetMembershipView() => Task.FromResult(
        membership.CurrentSnapshot.Members.ToDictionary(m => m.Key.ToString(), m => m.Value.Status.ToString()));

    private static readonly System.Text.Json.JsonSerializerOptions JsonWeb = new(System.Text.Json.JsonSerializerDefaults.Web);
}
