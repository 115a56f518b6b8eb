using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Metadata;

namespace RagCluster.Cli;

// What the commands take from their arguments: --tag key=value pairs typed as the collection declares, and --filter.
public static partial class Commands
{
    // The filter's shape is the server's to judge (against the collection's declared fields); here only that it is JSON, for a one-line error.
    private static void CheckFilter(string? filter)
    {
        if (filter is null) return;
        try { using var _ = System.Text.Json.JsonDocument.Parse(filter); }
        catch (System.Text.Json.JsonException e) { throw new CliException($"--filter is not JSON: {e.Message.Split('.')[0]}"); }
    }

    // --tag values typed as the server types a form's: by the collection's declared fields, else a string (or a datetime).
    private static Dictionary<string, string> StoredTags(Dictionary<string, string> text, IReadOnlyDictionary<string, string>? declared)
    {
        var stored = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in text)
        {
            var (typed, problem) = TagRules.KeyProblem(key) is { } badKey ? (null, badKey) : TagRules.FromText(key, value, TagRules.DeclaredKind(declared, key), isText: TagRules.IsText(declared, key));
            stored[key] = problem is null ? typed!.Value.ToStored() : throw new CliException(problem);
        }
        return TagRules.SizeProblem(stored) is { } tooMany ? throw new CliException(tooMany) : stored;
    }

    // An eval plan may name a fusion of the hybrid plan: "hybrid@relative:0.7" is the hybrid plan with relative score fusion at alpha 0.7.
    private static SearchRequest Variant(SearchRequest request)
    {
        if (request.Plan?.Split('@') is not [var plan, var fusion]) return request;
        var (method, alpha) = fusion.Split(':') is [var m, var a] ? (m, double.Parse(a, System.Globalization.CultureInfo.InvariantCulture)) : (fusion, (double?)null);
        return request with { Plan = plan, Fusion = method, Alpha = alpha };
    }

    private static Dictionary<string, string> ParseTags(string[] args)
    {
        var tags = new Dictionary<string, string>();
        foreach (var a in args)
        {
            var i = a.IndexOf('=');
            if (i <= 0) throw new CliException($"tag '{a}' is not key=value");
            tags[a[..i]] = a[(i + 1)..];
        }
        return tags;
    }
}
