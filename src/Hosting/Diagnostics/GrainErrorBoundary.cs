using System.Reflection;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Storage.Faults;

namespace RagCluster.Hosting.Diagnostics;

/// <summary>
/// An Orleans incoming-call filter: what a grain call throws leaves as a type every silo and client can read. A driver's
/// failure becomes <see cref="StorageUnavailableException"/>; any other exception with a type from outside .NET, Orleans
/// and RagCluster (anywhere in its inner exceptions) becomes <see cref="GrainFailedException"/>, logged here in full.
/// Without it Orleans answers the caller with a CodecNotFoundException for, say, Npgsql.PostgresException.
/// </summary>
public sealed class GrainErrorBoundary(ILogger<GrainErrorBoundary> log) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception e) when (Replacement(e, $"{context.InterfaceName}.{context.MethodName}") is { } ours)
        {
            if (ours is GrainFailedException) log.ForeignExceptionWrapped(e, context.MethodName, e.GetType().FullName);
            throw ours;
        }
    }

    /// <summary>Null when <paramref name="e"/> may cross as it is.</summary>
    public static Exception? Replacement(Exception e, string operation)
    {
        if (Chain(e).All(x => MayCross(x.GetType()))) return null;
        return StoreFaults.Translate(e, operation) ?? new GrainFailedException(e.GetType().FullName ?? e.GetType().Name, e.Message.Split('\n')[0]);
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        yield return e;
        var inner = e is AggregateException a ? a.InnerExceptions : e.InnerException is { } i ? [i] : [];
        foreach (var x in inner.SelectMany(Chain)) yield return x;
    }

    private static readonly Assembly CoreLibrary = typeof(object).Assembly;

    private static bool MayCross(Type type)
    {
        var assembly = type.Assembly;
        var name = assembly.GetName().Name ?? "";
        return assembly == CoreLibrary || name.StartsWith("Orleans.", StringComparison.Ordinal) || name.StartsWith("RagCluster.", StringComparison.Ordinal);
    }
}
