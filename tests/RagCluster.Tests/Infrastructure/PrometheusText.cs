using System.Globalization;
using System.Text.RegularExpressions;

namespace RagCluster.Tests.Infrastructure;

/// <summary>Reads the Prometheus text format (0.0.4) into samples: name, labels, value.</summary>
public static partial class PrometheusText
{
    public sealed record Sample(string Name, Dictionary<string, string> Labels, double Value);

    public static List<Sample> Parse(string text) =>
        text.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l =>
        {
            var m = SampleLine().Match(l);
            if (!m.Success) throw new FormatException($"not a Prometheus sample line: {l}");
            var labels = LabelPair().Matches(m.Groups["labels"].Value).ToDictionary(p => p.Groups[1].Value, p => Regex.Unescape(p.Groups[2].Value));
            var value = m.Groups["value"].Value switch { "+Inf" => double.PositiveInfinity, "-Inf" => double.NegativeInfinity, var v => double.Parse(v, CultureInfo.InvariantCulture) };
            return new Sample(m.Groups["name"].Value, labels, value);
        }).ToList();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)( \d+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"(\w+)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
