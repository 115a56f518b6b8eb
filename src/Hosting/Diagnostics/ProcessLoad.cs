using System.Diagnostics;

namespace RagCluster.Hosting.Diagnostics;

/// <summary>How busy this process is: CPU since the previous sample, memory, and work waiting for a thread.</summary>
public sealed class ProcessLoad
{
    private readonly object _gate = new();
    private TimeSpan _lastCpu = Process.GetCurrentProcess().TotalProcessorTime;
    private long _lastTimestamp = Stopwatch.GetTimestamp();
    private double _lastPercent;

    public object Sample()
    {
        double percent;
        lock (_gate)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.GetElapsedTime(_lastTimestamp);
            // Under half a second since the last sample the delta is noise: repeat the previous figure.
            if (wall > TimeSpan.FromMilliseconds(500))
            {
                _lastPercent = 100.0 * (cpu - _lastCpu).TotalMilliseconds / wall.TotalMilliseconds / Environment.ProcessorCount;
                _lastCpu = cpu;
                _lastTimestamp = Stopwatch.GetTimestamp();
            }
            percent = _lastPercent;
        }
        return new
        {
            cpuPercent = Math.Round(percent, 1),
            workingSetBytes = Environment.WorkingSet,
            gcHeapBytes = GC.GetTotalMemory(false),
            threadPoolQueue = ThreadPool.PendingWorkItemCount,
            threads = ThreadPool.ThreadCount,
            processors = Environment.ProcessorCount,
        };
    }
}
