using System.Diagnostics;

namespace RagCluster.Hosting.Diagnostics;

/// <summary>
/// The front end's query spans, and how to read Orleans' grain call spans. Orleans' activity propagation makes a
/// client span where a grain call is made and a server span where it runs, linked across silos by the trace
/// context it carries in the message; <see cref="GrainCallMetrics"/> tags the server span with the silo.
/// </summary>
public static class RagTracing
{
    /// <summary>Front-end spans that start a query's trace (search, ask), whose grain calls then join it.</summary>
    public const string QuerySourceName = "RagCluster.Query";
    public static readonly ActivitySource QuerySource = new(QuerySourceName);

    /// <summary>Orleans' sources ("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application").</summary>
    public static bool IsOrleansSource(string name) => name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal);

    public const string SiloTag = "ragcluster.silo";

    /// <summary>"IDocumentGrain/Ingest", with " run" for the side that ran it.</summary>
    public static string NameOf(Activity a)
    {
        if (!IsOrleansSource(a.Source.Name)) return a.DisplayName;
        var service = ServiceOf(a);
        var method = MethodOf(a);
        if (service is null || method is null) return a.DisplayName;
        var name = $"{service}/{method}";
        return a.Kind == ActivityKind.Server ? name + " run" : name;
    }

    public static string? GrainKeyOf(Activity a) =>
        a.GetTagItem("orleans.rpc.target_id") is string target ? target[(target.IndexOf('/') + 1)..] : null;

    /// <summary>The grain interface of an Orleans call span, short ("IDocumentGrain"); tag "orleans.rpc.service".</summary>
    public static string? ServiceOf(Activity a) => a.GetTagItem("orleans.rpc.service") is string t ? ShortName(t) : null;

    /// <summary>The method of an Orleans call span ("Search"); Orleans tags "rpc.method" with "Full.Interface/Search".</summary>
    public static string? MethodOf(Activity a) => a.GetTagItem("rpc.method") is string m ? m[(m.LastIndexOf('/') + 1)..] : null;

    /// <summary>"RagCluster.Grains.Interfaces.Documents.IDocumentGrain" → "IDocumentGrain"; an assembly-qualified name loses its assembly.</summary>
    public static string ShortName(string grainType)
    {
        var comma = grainType.IndexOf(',');
        if (comma >= 0) grainType = grainType[..comma];
        return grainType[(grainType.LastIndexOf('.') + 1)..];
    }
}
