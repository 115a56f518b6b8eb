using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace RagCluster.Grains.Diagnostics;

/// <summary>
/// One log line per step of a process's start (host built, schema, silo active, model loaded, shards loaded, listening):
/// how long the step took and when it ended, counted from the process's own start, so a slow restart shows where its
/// seconds went without a profiler (issue 73, item 3).
/// </summary>
public static partial class StartupSteps
{
    // The kernel's start time of this process: it counts the runtime's own start, before any of our code ran.
    private static readonly DateTime ProcessStarted = Process.GetCurrentProcess().StartTime.ToUniversalTime();

    /// <summary>Seconds since the process started.</summary>
    public static double SinceProcessStart => (DateTime.UtcNow - ProcessStarted).TotalSeconds;

    /// <summary>Logs that <paramref name="step"/> ended now, having taken <paramref name="took"/>.</summary>
    public static void StartStep(this ILogger logger, string step, TimeSpan took) => logger.Step(step, took.TotalSeconds, SinceProcessStart);

    [LoggerMessage(Level = LogLevel.Information, Message = "Start-up: {Step} in {Seconds:F2} s, {Since:F2} s after the process started")]
    private static partial void Step(this ILogger logger, string step, double seconds, double since);
}
