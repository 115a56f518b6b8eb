using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using YamlDotNet.Serialization;

namespace RagCluster.Tests.Infrastructure;

/// <summary>
/// Renders a Helm chart's templates the way `helm template` does, for the subset of the Go template language and
/// Sprig the chart uses: if/else/with/define/include, pipelines, and the functions below. No helm binary can be
/// installed here (get.helm.sh and the Go module proxy are unreachable), so this stands in for it. It is strict
/// where Helm is lenient: a value path that is not in values.yaml, or a function or construct it does not know,
/// is an error, so the chart cannot quietly drift outside what the tests check.
/// </summary>
public sealed class HelmTemplate
{
    private abstract record Node;
    private sealed record TextNode(string Text) : Node;
    private sealed record ActionNode(string Pipeline) : Node;
    private sealed record IfNode(string Condition, List<Node> Then, List<Node> Else) : Node;
    private sealed record WithNode(string Pipeline, List<Node> Body, List<Node> Else) : Node;

    private readonly string _chartDir;
    private readonly Dictionary<object, object?> _root;
    private readonly Dictionary<string, List<Node>> _defines = new();
    private readonly Dictionary<string, List<Node>> _files = new();

    private static readonly IDeserializer Yaml = new DeserializerBuilder().WithAttemptingUnquotedStringTypeDeserialization().Build();
    private static readonly ISerializer YamlOut = new SerializerBuilder().WithQuotingNecessaryStrings().Build(); // "true" stays a string, as in Helm

    public HelmTemplate(string chartDir, string releaseName, string ns, string overridesYaml = "")
    {
        _chartDir = chartDir;
        var chart = (Dictionary<object, object?>)Yaml.Deserialize<object>(File.ReadAllText(Path.Combine(chartDir, "Chart.yaml")))!;
        var values = (Dictionary<object, object?>)Yaml.Deserialize<object>(File.ReadAllText(Path.Combine(chartDir, "values.yaml")))!;
        if (overridesYaml.Length > 0) Merge(values, (Dictionary<object, object?>)Yaml.Deserialize<object>(overridesYaml)!);
        _root = new Dictionary<object, object?>
        {
            ["Values"] = values,
            ["Release"] = new Dictionary<object, object?> { ["Name"] = releaseName, ["Namespace"] = ns, ["Service"] = "Helm" },
            ["Chart"] = new Dictionary<object, object?> { ["Name"] = chart["name"], ["Version"] = chart["version"], ["AppVersion"] = chart["appVersion"] },
            ["Template"] = new Dictionary<object, object?> { ["BasePath"] = $"{chart["name"]}/templates" },
        };
        foreach (var file in Directory.EnumerateFiles(Path.Combine(chartDir, "templates")).Order(StringComparer.Ordinal))
        {
            var nodes = Parse(File.ReadAllText(file));
            _files[$"{chart["name"]}/templates/{Path.GetFileName(file)}"] = nodes;
        }
    }

    /// <summary>Rendered manifests by file name (helpers and NOTES.txt excluded, as helm template does).</summary>
    public Dictionary<string, string> RenderAll() => _files
        .Where(f => !Path.GetFileName(f.Key).StartsWith('_') && f.Key.EndsWith(".yaml"))
        .ToDictionary(f => Path.GetFileName(f.Key), f => Render(f.Value, _root));

    public string RenderFile(string name) => Render(_files.Single(f => Path.GetFileName(f.Key) == name).Value, _root);

    /// <summary>Every YAML document of the rendered chart, as maps.</summary>
    public List<Dictionary<object, object?>> Documents() => RenderAll().Values
        .SelectMany(text => text.Split("\n---", StringSplitOptions.RemoveEmptyEntries))
        .Select(doc => Yaml.Deserialize<Dictionary<object, object?>>(doc))
        .Where(d => d is not null).ToList()!;

    private static void Merge(Dictionary<object, object?> into, Dictionary<object, object?> from)
    {
        foreach (var (k, v) in from)
            if (v is Dictionary<object, object?> m && into.TryGetValue(k, out var existing) && existing is Dictionary<object, object?> e) Merge(e, m);
            else into[k] = v;
    }

    // ---- parsing: text and {{ actions }} with trim markers, into a tree ----

    private List<Node> Parse(string template)
    {
        var tokens = new List<(bool Action, string Text)>();
        var pos = 0;
        while (pos < template.Length)
        {
            var open = template.IndexOf("{{", pos, StringComparison.Ordinal);
            if (open < 0) { tokens.Add((false, template[pos..])); break; }
            var close = template.IndexOf("}}", open, StringComparison.Ordinal);
            if (close < 0) throw new FormatException("unclosed {{");
            var text = template[pos..open];
            var body = template[(open + 2)..close];
            if (body.StartsWith('-')) { text = text.TrimEnd(); body = body[1..]; }
            var trimAfter = body.EndsWith('-');
            if (trimAfter) body = body[..^1];
            tokens.Add((false, text));
            tokens.Add((true, body.Trim()));
            pos = close + 2;
            if (trimAfter) while (pos < template.Length && char.IsWhiteSpace(template[pos])) pos++;
        }
        var index = 0;
        var nodes = ParseList(tokens, ref index, out var terminator);
        if (terminator is not null) throw new FormatException($"unexpected {{{{{terminator}}}}}");
        return nodes;
    }

    private List<Node> ParseList(List<(bool Action, string Text)> tokens, ref int i, out string? terminator)
    {
        var nodes = new List<Node>();
        terminator = null;
        while (i < tokens.Count)
        {
            var (action, text) = tokens[i++];
            if (!action) { if (text.Length > 0) nodes.Add(new TextNode(text)); continue; }
            if (text.StartsWith("/*")) continue; // comment
            if (text is "end" or "else") { terminator = text; return nodes; }
            if (text.StartsWith("if ") || text.StartsWith("with "))
            {
                var isIf = text.StartsWith("if ");
                var body = ParseList(tokens, ref i, out var t);
                var otherwise = new List<Node>();
                if (t == "else") otherwise = ParseList(tokens, ref i, out t);
                if (t != "end") throw new FormatException($"'{text}' is not closed");
                nodes.Add(isIf ? new IfNode(text[3..], body, otherwise) : new WithNode(text[5..], body, otherwise));
                continue;
            }
            if (text.StartsWith("define "))
            {
                var name = Unquote(text[7..].Trim());
                _defines[name] = ParseList(tokens, ref i, out var t);
                if (t != "end") throw new FormatException($"define {name} is not closed");
                continue;
            }
            if (text.StartsWith("range ") || text.StartsWith("template ") || text.StartsWith("block ") || text.Contains(":="))
                throw new NotSupportedException($"{{{{{text}}}}} is outside the supported subset");
            nodes.Add(new ActionNode(text));
        }
        return nodes;
    }

    // ---- rendering ----

    private string Render(List<Node> nodes, object? dot)
    {
        var sb = new StringBuilder();
        foreach (var node in nodes)
        {
            switch (node)
            {
                case TextNode t: sb.Append(t.Text); break;
                case ActionNode a: sb.Append(Format(Eval(a.Pipeline, dot))); break;
                case IfNode n: sb.Append(Render(Truthy(Eval(n.Condition, dot)) ? n.Then : n.Else, dot)); break;
                case WithNode w:
                    var v = Eval(w.Pipeline, dot);
                    sb.Append(Truthy(v) ? Render(w.Body, v) : Render(w.Else, dot));
                    break;
            }
        }
        return sb.ToString();
    }

    private object? Eval(string pipeline, object? dot)
    {
        object? piped = null;
        var first = true;
        foreach (var command in Split(pipeline, '|'))
        {
            var parts = Split(command.Trim(), ' ').Where(p => p.Length > 0).ToList();
            var args = parts.Skip(1).Select(p => Arg(p, dot)).ToList();
            if (!first) args.Add(piped);
            piped = IsFunction(parts[0]) ? Call(parts[0], args, dot) : parts.Count == 1 && first ? Arg(parts[0], dot)
                : throw new NotSupportedException($"'{command}' in '{pipeline}'");
            first = false;
        }
        return piped;
    }

    private static readonly HashSet<string> Functions =
        ["include", "printf", "print", "trunc", "trimSuffix", "quote", "default", "toYaml", "nindent", "indent", "b64enc", "required", "not", "and", "or", "eq", "sha256sum",
         "add", "sub", "mul", "div", "gt", "lt", "fail"];

    private static long Int(object? v) => v switch
    {
        string s => long.Parse(s.Trim(), CultureInfo.InvariantCulture),
        IConvertible c and not bool => Convert.ToInt64(c, CultureInfo.InvariantCulture), // YAML numbers come as the smallest type that holds them
        _ => throw new FormatException($"not a number: {Format(v)}"),
    };

    private static bool IsFunction(string token) => Functions.Contains(token);

    private object? Arg(string token, object? dot)
    {
        if (token.StartsWith('(')) return Eval(token[1..^1], dot);
        if (token.StartsWith('"')) return Unquote(token);
        if (long.TryParse(token, CultureInfo.InvariantCulture, out var n)) return n;
        if (token is "true" or "false") return token == "true";
        if (token == ".") return dot;
        if (token == "$") return _root;
        if (token.StartsWith("$.")) return Lookup(_root, token[2..], token);
        if (token.StartsWith('.')) return Lookup(dot, token[1..], token);
        if (IsFunction(token)) return Call(token, [], dot);
        throw new NotSupportedException($"unknown token '{token}'");
    }

    private static object? Lookup(object? from, string path, string whole)
    {
        foreach (var key in path.Split('.'))
        {
            if (from is not Dictionary<object, object?> map || !map.TryGetValue(key, out from))
                throw new KeyNotFoundException($"{whole}: no value at '{key}' (every value a template reads must be in values.yaml)");
        }
        return from;
    }

    private object? Call(string name, List<object?> a, object? dot) => name switch
    {
        "include" => Include((string)a[0]!, a[1]),
        "printf" => Printf(Format(a[0]), a.Skip(1).ToList()),
        "print" => string.Concat(a.Select(Format)),
        "trunc" => Format(a[1]) is var s && s.Length > (long)a[0]! ? s[..(int)(long)a[0]!] : Format(a[1]),
        "trimSuffix" => Format(a[1]).EndsWith(Format(a[0])) ? Format(a[1])[..^Format(a[0]).Length] : Format(a[1]),
        "quote" => "\"" + Format(a[0]).Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"",
        "default" => Truthy(a.Count > 1 ? a[1] : null) ? a[1] : a[0],
        "toYaml" => ToYaml(a[0]),
        "nindent" => "\n" + Indent((int)(long)a[0]!, Format(a[1])),
        "indent" => Indent((int)(long)a[0]!, Format(a[1])),
        "b64enc" => Convert.ToBase64String(Encoding.UTF8.GetBytes(Format(a[0]))),
        "required" => Truthy(a[1]) ? a[1] : throw new InvalidOperationException("required: " + a[0]),
        "not" => !Truthy(a[0]),
        "and" => a.FirstOrDefault(x => !Truthy(x), a[^1]),
        "or" => a.FirstOrDefault(Truthy, a[^1]),
        "eq" => Equals(Format(a[0]), Format(a[1])),
        "sha256sum" => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Format(a[0])))),
        // Sprig's integer arithmetic (its operands converted to int64, so an include's text counts too) and Go's comparisons.
        "add" => a.Sum(Int),
        "sub" => Int(a[0]) - Int(a[1]),
        "mul" => a.Aggregate(1L, (p, x) => p * Int(x)),
        "div" => Int(a[0]) / Int(a[1]),
        "gt" => Int(a[0]) > Int(a[1]),
        "lt" => Int(a[0]) < Int(a[1]),
        "fail" => throw new InvalidOperationException("fail: " + Format(a[0])),
        _ => throw new NotSupportedException(name),
    };

    private string Include(string name, object? dot) =>
        _defines.TryGetValue(name, out var nodes) ? Render(nodes, dot)
        : _files.TryGetValue(name, out var file) ? Render(file, dot)
        : throw new KeyNotFoundException($"include: no template '{name}'");

    private static string Printf(string format, List<object?> args)
    {
        var sb = new StringBuilder();
        var next = 0;
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] == '%' && i + 1 < format.Length && format[i + 1] is 's' or 'd' or 'v') { sb.Append(Format(args[next++])); i++; }
            else sb.Append(format[i]);
        }
        return sb.ToString();
    }

    private static string ToYaml(object? value) => value is null ? "null" : YamlOut.Serialize(value).TrimEnd('\n', '\r');

    private static string Indent(int n, string s) => string.Join("\n", s.Split('\n').Select(l => new string(' ', n) + l));

    private static bool Truthy(object? v) => v switch
    {
        null => false, bool b => b, string s => s.Length > 0, long n => n != 0, int n => n != 0, double d => d != 0,
        System.Collections.IDictionary m => m.Count > 0, System.Collections.IList l => l.Count > 0, _ => true,
    };

    private static string Format(object? v) => v switch
    {
        null => "", bool b => b ? "true" : "false", IFormattable f => f.ToString(null, CultureInfo.InvariantCulture), _ => v.ToString() ?? "",
    };

    private static string Unquote(string s) => s.Length >= 2 && s[0] == '"' ? s[1..^1].Replace("\\\"", "\"").Replace("\\\\", "\\") : s;

    /// <summary>Splits on a separator outside quotes and parentheses.</summary>
    private static List<string> Split(string s, char separator)
    {
        var parts = new List<string>();
        var depth = 0;
        var quoted = false;
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '"' && (i == 0 || s[i - 1] != '\\')) quoted = !quoted;
            else if (!quoted && c == '(') depth++;
            else if (!quoted && c == ')') depth--;
            else if (!quoted && depth == 0 && c == separator) { parts.Add(s[start..i]); start = i + 1; }
        }
        parts.Add(s[start..]);
        return parts;
    }
}
