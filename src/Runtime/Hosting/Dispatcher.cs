using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RagCluster.Runtime.Activation;
using RagCluster.Runtime.Membership;
using RagCluster.Runtime.Messaging;
using RagCluster.Runtime.Transport;

namespace RagCluster.Runtime.Hosting;

/// <summary>
/// Decides where a call runs: in a local activation, in a new one (if this silo owns the grain and wins the
/// directory), or on another silo (forward). Every path either runs the call once or reports that it did not.
/// </summary>
internal sealed class Dispatcher(
    GrainTypeRegistry registry, Catalog catalog, MembershipService membership, SiloTransportClient transport,
    SiloOptions options, Func<bool> isStopping, ILogger log)
{
    private long ViewVersion => membership.Current.Version;

    public async Task<ResponseFrame> DispatchAsync(RequestFrame request)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan Remaining() => TimeSpan.FromMilliseconds(Math.Max(0, request.TimeoutMs - clock.Elapsed.TotalMilliseconds));

        if (request.ViewVersion > ViewVersion)
        {
            // The sender knows a newer membership; catch up before routing by ours.
            try { await membership.RefreshAsync(request.ViewVersion, CancellationToken.None).WaitAsync(Remaining()); }
            catch (Exception e) { log.LogDebug(e, "View refresh before dispatch failed"); }
        }
        if (!registry.TryGet(request.Target.Type, out var grainClass))
            return Error(new UnknownGrainTypeException($"no grain class implements '{request.Target.Type}' on this silo"));
        if (!grainClass.Interface.ById.TryGetValue(request.MethodId, out var method))
            return Error(new BadMessageException($"{grainClass.Interface.Type.Name} has no method with id {request.MethodId}; caller and silo run different versions?"));
        var invoke = Invocation.MethodInvoker.For(method);

        for (var round = 0; ; round++)
        {
            if (Remaining() <= TimeSpan.Zero) return TimedOut(request);
            if (membership.IsDeclaredDead) return ResponseFrame.Failure(ResponseStatus.Unavailable, "silo was declared dead", ViewVersion);

            ActivationContext activation;
            if (grainClass.IsStatelessWorker)
            {
                if (isStopping()) return ResponseFrame.Failure(ResponseStatus.Unavailable, "silo is shutting down", ViewVersion);
                activation = catalog.GetWorkerPool(request.Target, grainClass).Pick();
                try
                {
                    if (await RunAsync(request, activation, method, invoke, Remaining) is { } done) return done;
                }
                finally
                {
                    activation.AddLoad(-1);
                }
                continue;
            }
            if (!catalog.TryGet(request.Target, out activation))
            {
                var owner = membership.Current.OwnerOf(request.Target);
                if (owner is null) return ResponseFrame.Failure(ResponseStatus.Unavailable, "no active silo in the cluster", ViewVersion);
                if (owner.SiloId != membership.SiloId || isStopping()) return await ForwardAsync(request, owner.Address, Remaining());
                activation = catalog.GetOrCreate(request.Target, grainClass);
            }

            if (await RunAsync(request, activation, method, invoke, Remaining) is { } response) return response;
        }
    }

    /// <summary>Runs the call in <paramref name="activation"/>; null means it did not run there and must be routed again.</summary>
    private async Task<ResponseFrame?> RunAsync(RequestFrame request, ActivationContext activation, Invocation.GrainMethod method,
        Func<object, object?[], Task<object?>> invoke, Func<TimeSpan> remaining)
    {
        try
        {
            await activation.Activated.Task.WaitAsync(remaining());
        }
        catch (TimeoutException)
        {
            return TimedOut(request);
        }
        catch (Exception e)
        {
            return Error(e); // OnActivateAsync (or the constructor) threw: the caller sees why
        }
        if (activation.RedirectTo is { } holder)
        {
            var address = membership.Current.Find(holder)?.Address;
            return address is null ? null : await ForwardAsync(request, address, remaining());
        }

        var args = ReadArguments(method, request, out var bad);
        if (bad is not null) return Error(bad);
        var started = Stopwatch.GetTimestamp();
        using var span = Diagnostics.RuntimeTracing.StartServer(request.Target, method.Method.Name, request.TraceParent, membership.SiloId);
        var outcome = await activation.InvokeAsync(g => invoke(g, args!), remaining());
        if (outcome.Kind != OutcomeKind.Ok) span?.SetStatus(ActivityStatusCode.Error, outcome.Kind.ToString());
        if (outcome.Kind is OutcomeKind.Ok or OutcomeKind.Failed or OutcomeKind.TimedOut)
            Diagnostics.RuntimeMetrics.RecordCall(request.Target.Type, method.Method.Name,
                outcome.Kind switch { OutcomeKind.Ok => "ok", OutcomeKind.Failed => "error", _ => "timeout" }, started);
        switch (outcome.Kind)
        {
            case OutcomeKind.Ok:
                return ResponseFrame.Ok(method.WriteResult(outcome.Result), ViewVersion);
            case OutcomeKind.Failed:
                return Error(outcome.Error!);
            case OutcomeKind.TimedOut:
                return TimedOut(request);
            default:
                // The activation went away before our turn: wait until it is fully gone, then route again.
                try { await activation.Deactivated.Task.WaitAsync(remaining()); }
                catch (TimeoutException) { return TimedOut(request); }
                return null;
        }
    }

    private static object?[]? ReadArguments(Invocation.GrainMethod method, RequestFrame request, out Exception? error)
    {
        try
        {
            error = null;
            return method.ReadArguments(request.Arguments);
        }
        catch (BadMessageException e)
        {
            error = e;
            return null;
        }
    }

    private async Task<ResponseFrame> ForwardAsync(RequestFrame request, string address, TimeSpan remaining)
    {
        if (request.Hops >= options.MaxForwardHops)
            return ResponseFrame.Failure(ResponseStatus.Reroute, $"{request.Target} is moving between silos", ViewVersion);
        if (remaining <= TimeSpan.Zero) return TimedOut(request);
        return await transport.SendAsync(address, request.Forwarded(ViewVersion, (int)Math.Max(1, remaining.TotalMilliseconds)), ViewVersion);
    }

    private ResponseFrame Error(Exception e) => ResponseFrame.FromException(e, ViewVersion);

    private ResponseFrame TimedOut(RequestFrame request) =>
        Error(new GrainCallTimeoutException($"call to {request.Target} did not complete within {request.TimeoutMs} ms"));
}
