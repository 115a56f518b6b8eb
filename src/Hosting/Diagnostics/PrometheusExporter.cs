using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace RagCluster.Hosting.Diagnostics;

/// <summary>
/// Collects every "RagCluster.*" meter through a MeterListener and renders the Prometheus text format 0.0.4
/// (no Prometheus exporter package restores here). Counters sum, histograms keep cumulative buckets (time
/// buckets for unit "s", powers of two otherwise), observable gauges are read at each scrape.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly double[] SizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Series> _series = new();
    private readonly Lock _scrape = new();

    private sealed class Series(Instrument instrument)
    {
        public Instrument Instrument { get; } = instrument;
        public double[]? Bounds { get; } = instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal)
            ? instrument.Unit == "s" ? SecondsBuckets : SizeBuckets
            : null;
        public ConcurrentDictionary<string, Cell> Cells { get; } = new();
    }

    private sealed class Cell(int buckets)
    {
        public readonly Lock Lock = new();
        public double Value;
        public double Sum;
        public long Count;
        public readonly long[] Buckets = new long[buckets + 1];
    }

    public PrometheusExporter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!instrument.Meter.Name.StartsWith("RagCluster.", StringComparison.Ordinal)) return;
            _series.TryAdd(instrument, new Series(instrument));
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (!_series.TryGetValue(instrument, out var series)) return;
        var key = Labels(tags);
        var cell = series.Cells.GetOrAdd(key, _ => new Cell(series.Bounds?.Length ?? 0));
        lock (cell.Lock)
        {
            if (series.Bounds is { } bounds)
            {
                cell.Sum += value;
                cell.Count++;
                var b = 0;
                while (b < bounds.Length && value > bounds[b]) b++;
                cell.Buckets[b]++;
            }
            else if (IsGauge(instrument)) cell.Value = value;
            else cell.Value += value;
        }
    }

    private static bool IsGauge(Instrument i) => i.GetType().Name.StartsWith("ObservableGauge", StringComparison.Ordinal) ||
                                               i.GetType().Name.StartsWith("Gauge", StringComparison.Ordinal);

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return "";
        var sorted = tags.ToArray();
        Array.Sort(sorted, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var sb = new StringBuilder();
        foreach (var (k, v) in sorted)
        {
            if (sb.Length > 0) sb.Append(',');
            sb.Append(Sanitize(k)).Append("=\"").Append(Escape(Convert.ToString(v, CultureInfo.InvariantCulture) ?? "")).Append('"');
        }
        return sb.ToString();
    }

    private static string Escape(string v) => v.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    private static string Sanitize(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name) sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        return sb.ToString();
    }

    private static string Num(double v) => double.IsPositiveInfinity(v) ? "+Inf" : v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The current values in the Prometheus text exposition format.</summary>
    public string Render()
    {
        lock (_scrape)
        {
            // Gauges report fresh values each scrape; drop the last scrape's so vanished series disappear.
            foreach (var s in _series.Values.Where(s => IsGauge(s.Instrument))) s.Cells.Clear();
            _listener.RecordObservableInstruments();
            var sb = new StringBuilder();
            foreach (var s in _series.Values.OrderBy(s => s.Instrument.Name, StringComparer.Ordinal))
            {
                if (s.Cells.IsEmpty) continue;
                var name = Sanitize(s.Instrument.Name);
                var type = s.Bounds is not null ? "histogram" : IsGauge(s.Instrument) || s.Instrument.GetType().Name.Contains("UpDown") ? "gauge" : "counter";
                sb.Append("# HELP ").Append(name).Append(' ').Append(Escape(s.Instrument.Description ?? name)).Append('\n');
                sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
                foreach (var (labels, cell) in s.Cells.OrderBy(c => c.Key, StringComparer.Ordinal))
                {
                    lock (cell.Lock)
                    {
                        if (s.Bounds is { } bounds)
                        {
                            long cumulative = 0;
                            for (var b = 0; b <= bounds.Length; b++)
                            {
                                cumulative += cell.Buckets[b];
                                var le = b < bounds.Length ? Num(bounds[b]) : "+Inf";
                                sb.Append(name).Append("_bucket{").Append(labels).Append(labels.Length > 0 ? "," : "").Append("le=\"").Append(le).Append("\"} ").Append(cumulative).Append('\n');
                            }
                            sb.Append(name).Append("_sum").Append(Braces(labels)).Append(' ').Append(Num(cell.Sum)).Append('\n');
                            sb.Append(name).Append("_count").Append(Braces(labels)).Append(' ').Append(cell.Count).Append('\n');
                        }
                        else sb.Append(name).Append(Braces(labels)).Append(' ').Append(Num(cell.Value)).Append('\n');
                    }
                }
            }
            return sb.ToString();
        }
    }

    private static string Braces(string labels) => labels.Length == 0 ? "" : "{" + labels + "}";

    public void Dispose() => _listener.Dispose();
}
