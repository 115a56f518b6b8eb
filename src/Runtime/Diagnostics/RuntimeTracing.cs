using System.Diagnostics;

namespace RagCluster.Runtime.Diagnostics;

/// <summary>
/// Spans for grain calls (ActivitySource "RagCluster.Runtime"): a client span where a call is made and a server
/// span where it runs, linked across silos by the W3C traceparent carried in the call frame. With no listener
/// (no tracing configured) nothing is allocated.
/// </summary>
public static class RuntimeTracing
{
    public const string SourceName = "RagCluster.Runtime";
    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>Front-end spans that start a query's trace (search, ask), whose grain calls then join it.</summary>
    public const string QuerySourceName = "RagCluster.Query";
    public static readonly ActivitySource QuerySource = new(QuerySourceName);

    internal static Activity? StartClient(GrainId target, string method)
    {
        if (!Source.HasListeners()) return null;
        var a = Source.StartActivity($"{RuntimeMetrics.ShortName(target.Type)}/{method}", ActivityKind.Client);
        a?.SetTag("rpc.system", "ragcluster");
        a?.SetTag("rpc.service", RuntimeMetrics.ShortName(target.Type));
        a?.SetTag("rpc.method", method);
        a?.SetTag("ragcluster.grain_key", target.Key);
        return a;
    }

    internal static string TraceParentOf(Activity? activity) =>
        activity is null || activity.IdFormat != ActivityIdFormat.W3C ? "" : activity.Id ?? "";

    internal static Activity? StartServer(GrainId target, string method, string traceParent, string siloId)
    {
        if (!Source.HasListeners()) return null;
        ActivityContext.TryParse(traceParent, null, out var parent);
        var a = Source.StartActivity($"{RuntimeMetrics.ShortName(target.Type)}/{method} run", ActivityKind.Server, parent);
        a?.SetTag("rpc.system", "ragcluster");
        a?.SetTag("rpc.service", RuntimeMetrics.ShortName(target.Type));
        a?.SetTag("rpc.method", method);
        a?.SetTag("ragcluster.grain_key", target.Key);
        a?.SetTag("ragcluster.silo", siloId);
        return a;
    }
}
