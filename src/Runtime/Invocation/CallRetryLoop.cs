using System.Diagnostics;
using RagCluster.Runtime.Messaging;

namespace RagCluster.Runtime.Invocation;

/// <summary>
/// The caller's side of a call: send, and while the cluster answers "not run here, try again" (a reroute, or a
/// silo that could not be reached) retry with backoff until the call timeout. Calls that may have run are
/// never repeated; they surface as <see cref="SiloUnavailableException"/> with MayHaveExecuted set.
/// </summary>
internal static class CallRetryLoop
{
    public static async Task<object?> CallAsync(GrainId target, GrainMethod method, object?[]? args, TimeSpan timeout,
        Func<RequestFrame, Task<ResponseFrame>> send, Func<ResponseFrame, int, Task> beforeRetry, Func<long> viewVersion)
    {
        var arguments = method.WriteArguments(args);
        var clock = Stopwatch.StartNew();
        using var span = Diagnostics.RuntimeTracing.StartClient(target, method.Method.Name);
        var traceParent = Diagnostics.RuntimeTracing.TraceParentOf(span);
        for (var attempt = 0; ; attempt++)
        {
            var remaining = timeout - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
                throw new GrainCallTimeoutException($"call {method} on {target} timed out after {timeout.TotalMilliseconds:0} ms");
            var frame = new RequestFrame
            {
                Target = target, MethodId = method.Id, Arguments = arguments,
                TimeoutMs = Math.Max(1, (int)remaining.TotalMilliseconds), ViewVersion = viewVersion(), TraceParent = traceParent,
            };
            var response = await send(frame).ConfigureAwait(false);
            switch (response.Status)
            {
                case ResponseStatus.Ok:
                    return method.ReadResult(response.Result);
                case ResponseStatus.Error:
                    span?.SetStatus(ActivityStatusCode.Error, response.ErrorMessage);
                    throw response.ToException();
                case ResponseStatus.OutcomeUnknown:
                    throw new SiloUnavailableException($"call {method} on {target}: {response.ErrorMessage} (it may have run; retry if it is safe to repeat)", mayHaveExecuted: true);
                case ResponseStatus.Reroute or ResponseStatus.Unavailable:
                    var backoff = TimeSpan.FromMilliseconds(Math.Min(1000, 10 * (1 << Math.Min(attempt, 7))) * (0.5 + Random.Shared.NextDouble() / 2));
                    if (clock.Elapsed + backoff >= timeout)
                        throw new SiloUnavailableException($"call {method} on {target} could not be delivered within {timeout.TotalMilliseconds:0} ms: {response.ErrorMessage}");
                    await Task.Delay(backoff).ConfigureAwait(false);
                    await beforeRetry(response, attempt).ConfigureAwait(false);
                    break;
            }
        }
    }
}
