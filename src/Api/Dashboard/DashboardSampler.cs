namespace RagCluster.Api.Dashboard;

public sealed record SiloSample(string SiloId, string Status, bool Reachable, int Activations, Dictionary<string, int> ByType, double? CpuPercent, int Queued);

public sealed record ClusterSample(DateTimeOffset At, SiloSample[] Silos);

/// <summary>
/// Samples the cluster every <c>Dashboard:SampleSeconds</c> (2) and keeps the last <c>Dashboard:HistorySamples</c>
/// (180, six minutes), so the dashboard's activation and load history survives a page reload.
/// </summary>
public sealed class DashboardSampler(ClusterInspector inspector, IConfiguration configuration, ILogger<DashboardSampler> log) : BackgroundService
{
    private readonly LinkedList<ClusterSample> _history = new();
    private readonly int _capacity = Math.Clamp(configuration.GetValue("Dashboard:HistorySamples", 180), 10, 10_000);
    private readonly TimeSpan _period = TimeSpan.FromSeconds(Math.Clamp(configuration.GetValue("Dashboard:SampleSeconds", 2.0), 0.2, 300));

    public ClusterSample[] History()
    {
        lock (_history) return _history.ToArray();
    }

    public static ClusterSample Summarise(DateTimeOffset at, IEnumerable<ClusterInspector.SiloView> silos) => new(at, silos.Select(s => new SiloSample(
        s.SiloId, s.Status, s.Reachable, s.Activations.Values.Sum(), s.Activations,
        s.Load is { } l && l.TryGetProperty("cpuPercent", out var cpu) ? cpu.GetDouble() : null, s.Queued.Values.Sum())).ToArray());

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_period);
        do
        {
            try
            {
                var sample = Summarise(DateTimeOffset.UtcNow, await inspector.SilosAsync());
                lock (_history)
                {
                    _history.AddLast(sample);
                    if (_history.Count > _capacity) _history.RemoveFirst();
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.DashboardSampleFailed(e.Message);
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}
