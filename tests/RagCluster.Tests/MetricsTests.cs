using System.Diagnostics.Metrics;
using RagCluster.Hosting.Diagnostics;

namespace RagCluster.Tests;

public sealed class MetricsTests
{
    [Fact]
    public void Exporter_sums_counters_per_label_set_escapes_labels_and_buckets_histograms()
    {
        using var exporter = new PrometheusExporter();
        using var meter = new Meter("RagCluster.Test." + Guid.NewGuid().ToString("N"));
        var counter = meter.CreateCounter<long>("test_things_total", description: "things");
        var histogram = meter.CreateHistogram<double>("test_wait_seconds", "s");
        var value = 7;
        meter.CreateObservableGauge("test_level", () => value);
        counter.Add(2, new KeyValuePair<string, object?>("kind", "a\"b\\c\nd"));
        counter.Add(3, new KeyValuePair<string, object?>("kind", "a\"b\\c\nd"));
        counter.Add(1, new KeyValuePair<string, object?>("kind", "plain"));
        foreach (var s in new[] { 0.0001, 0.003, 0.003, 2.0, 100.0 }) histogram.Record(s);

        var text = exporter.Render();
        Assert.Contains("# TYPE test_things_total counter\n", text);
        Assert.Contains("test_things_total{kind=\"a\\\"b\\\\c\\nd\"} 5\n", text);
        Assert.Contains("test_things_total{kind=\"plain\"} 1\n", text);
        Assert.Contains("# TYPE test_wait_seconds histogram\n", text);
        Assert.Contains("test_wait_seconds_bucket{le=\"0.0005\"} 1\n", text);
        Assert.Contains("test_wait_seconds_bucket{le=\"0.005\"} 3\n", text);
        Assert.Contains("test_wait_seconds_bucket{le=\"2.5\"} 4\n", text);
        Assert.Contains("test_wait_seconds_bucket{le=\"+Inf\"} 5\n", text);
        Assert.Contains("test_wait_seconds_count 5\n", text);
        Assert.Contains("test_wait_seconds_sum 102.0061\n", text);
        Assert.Contains("test_level 7\n", text);
        value = 9;
        Assert.Contains("test_level 9\n", exporter.Render()); // gauges are read at each scrape
    }
}
