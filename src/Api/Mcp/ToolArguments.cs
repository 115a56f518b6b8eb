using System.Text.Json;

namespace RagCluster.Api.Mcp;

/// <summary>
/// Tool arguments checked against the tool's own input schema before they are bound, so a wrong kind or a missing
/// argument gets a sentence that names it (the binder throws a .NET exception that says neither). Covers what the
/// schemas of our tools use: type, required, properties, items and additionalProperties.
/// </summary>
public static class ToolArguments
{
    /// <summary>What is wrong with <paramref name="arguments"/>, or null when they fit <paramref name="schema"/>.</summary>
    public static string? Problem(JsonElement schema, IDictionary<string, JsonElement>? arguments)
    {
        foreach (var name in Required(schema))
            if (arguments is null || !arguments.ContainsKey(name)) return $"{name} is required";
        if (arguments is null || !schema.TryGetProperty("properties", out var properties)) return null;
        foreach (var (name, value) in arguments)
            if (properties.TryGetProperty(name, out var property) && Check(property, value, name) is { } wrong) return wrong;
        return null;
    }

    private static string? Check(JsonElement schema, JsonElement value, string path)
    {
        var kinds = Kinds(schema);
        if (kinds.Count > 0 && !kinds.Contains(KindOf(value)) && !(KindOf(value) == "integer" && kinds.Contains("number")))
            return $"{path} must be {string.Join(" or ", kinds.Where(k => k != "null").Select(Article))}";
        if (value.ValueKind == JsonValueKind.Object)
        {
            foreach (var name in Required(schema))
                if (!value.TryGetProperty(name, out _)) return $"{path}.{name} is required";
            var properties = schema.TryGetProperty("properties", out var p) ? p : default;
            var others = schema.TryGetProperty("additionalProperties", out var a) && a.ValueKind == JsonValueKind.Object ? a : default;
            foreach (var member in value.EnumerateObject())
            {
                var memberSchema = properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(member.Name, out var s) ? s : others;
                if (memberSchema.ValueKind == JsonValueKind.Object && Check(memberSchema, member.Value, $"{path}.{member.Name}") is { } wrong) return wrong;
            }
        }
        else if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Object)
        {
            var i = 0;
            foreach (var item in value.EnumerateArray())
                if (Check(items, item, $"{path}[{i++}]") is { } wrong) return wrong;
        }
        return null;
    }

    private static IEnumerable<string> Required(JsonElement schema) =>
        schema.TryGetProperty("required", out var r) && r.ValueKind == JsonValueKind.Array ? r.EnumerateArray().Select(n => n.GetString()!) : [];

    private static List<string> Kinds(JsonElement schema) => !schema.TryGetProperty("type", out var t) ? []
        : t.ValueKind == JsonValueKind.Array ? t.EnumerateArray().Select(k => k.GetString()!).ToList() : [t.GetString()!];

    private static string KindOf(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "string",
        JsonValueKind.Number => value.TryGetInt64(out _) ? "integer" : "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        _ => "null",
    };

    private static string Article(string kind) => kind switch
    {
        "integer" => "a whole number",
        "array" or "object" => "an " + kind,
        "boolean" => "true or false",
        _ => "a " + kind,
    };
}
