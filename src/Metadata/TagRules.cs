using System.Globalization;
using System.Text.Json;

namespace RagCluster.Metadata;

/// <summary>
/// What a document's tags may be, and their JSON into the stored form (<see cref="TagValue"/>), checked against the
/// collection's declared fields. Every problem names the tag it is about, for a 400 the caller can act on.
/// </summary>
public static class TagRules
{
    public const int MaxTags = 32;
    public const int MaxKeyLength = 64;
    public const int MaxStringLength = 256;
    public const int MaxArrayItems = 100;
    /// <summary>Keys and values of one document together, in characters (32 string tags at their longest fit, as before typed tags).</summary>
    public const int MaxCharacters = 16_384;
    public const int MaxDeclaredFields = 64;
    /// <summary>A declared text field's values, together, in characters: BM25 searches them, so they may be long.</summary>
    public const int MaxTextCharacters = 65_536;
    /// <summary>The declared type of a full-text field: a string BM25 indexes on its own (a search names it), fixed at creation.</summary>
    public const string TextType = "text";

    /// <summary>Field types a collection may declare, by the names its settings use.</summary>
    public static readonly IReadOnlyDictionary<string, TagKind> FieldTypes = new Dictionary<string, TagKind>(StringComparer.Ordinal)
    {
        ["string"] = TagKind.String, ["integer"] = TagKind.Integer, ["float"] = TagKind.Float,
        ["boolean"] = TagKind.Boolean, ["datetime"] = TagKind.DateTime, ["string[]"] = TagKind.StringArray,
        [TextType] = TagKind.String,
    };

    /// <summary>Whether the collection declares <paramref name="key"/> a text field (<see cref="TextType"/>).</summary>
    public static bool IsText(IReadOnlyDictionary<string, string>? declared, string key) =>
        declared is not null && declared.TryGetValue(key, out var type) && type == TextType;

    /// <summary>The text fields a collection declares, in name order.</summary>
    public static string[] TextFields(IReadOnlyDictionary<string, string>? declared) =>
        declared is null ? [] : [.. declared.Where(f => f.Value == TextType).Select(f => f.Key).Order(StringComparer.Ordinal)];

    public static string TypeName(TagKind kind) => FieldTypes.First(t => t.Value == kind).Key;

    /// <summary>Why <paramref name="key"/> cannot name a tag, or null.</summary>
    public static string? KeyProblem(string key) =>
        key.Length is 0 or > MaxKeyLength ? $"tag names are 1..{MaxKeyLength} characters ('{Shorten(key)}' is {key.Length})"
        : key[0] == '$' ? $"tag '{Shorten(key)}': names may not start with '$' (filters use it for operators)"
        : key.Contains('\0') ? "tag names may not contain U+0000"
        : null;

    /// <summary>Why a collection's declared fields cannot be, or null.</summary>
    public static string? DeclarationProblem(IReadOnlyDictionary<string, string>? fields)
    {
        if (fields is null) return null;
        if (fields.Count > MaxDeclaredFields) return $"fields: at most {MaxDeclaredFields} may be declared";
        foreach (var (name, type) in fields)
        {
            if (KeyProblem(name) is { } bad) return "fields: " + bad;
            if (type is null || !FieldTypes.ContainsKey(type))
                return $"fields.{name}: unknown type '{type}'; use {string.Join(", ", FieldTypes.Keys)}";
        }
        return null;
    }

    /// <summary>Why <paramref name="graphLinks"/> cannot be linked fields of a collection declaring <paramref name="fields"/>, or null.</summary>
    public static string? GraphLinksProblem(string[]? graphLinks, IReadOnlyDictionary<string, string>? fields, string? accessField)
    {
        if (graphLinks is null) return null;
        if (graphLinks.Length > 8) return "graphLinks: at most 8 fields";
        foreach (var name in graphLinks)
        {
            if (name is null || KeyProblem(name) is not null) return $"graphLinks: '{Shorten(name ?? "")}' is not a tag name";
            if (name == accessField) continue;
            if (fields is null || !fields.TryGetValue(name, out var type))
                return $"graphLinks.{name}: declare the field in \"fields\" as string or string[] (it is not declared)";
            if (type is not ("string" or "string[]"))
                return $"graphLinks.{name}: only string and string[] fields get graph links (it is declared {type})";
        }
        return null;
    }

    /// <summary>A document's JSON tags in their stored form, or the first problem (naming the tag).</summary>
    public static (Dictionary<string, string>? Stored, string? Problem) FromJson(IReadOnlyDictionary<string, JsonElement>? tags,
        IReadOnlyDictionary<string, string>? declared)
    {
        var stored = new Dictionary<string, string>(StringComparer.Ordinal);
        if (tags is null) return (stored, null);
        if (tags.Count > MaxTags) return (null, $"at most {MaxTags} tags a document (this one has {tags.Count})");
        foreach (var (key, json) in tags)
        {
            if (KeyProblem(key) is { } badKey) return (null, badKey);
            var (value, problem) = FromJson(key, json, DeclaredKind(declared, key), IsText(declared, key));
            if (problem is not null) return (null, problem);
            stored[key] = value!.Value.ToStored();
        }
        return (stored, SizeProblem(stored));
    }

    /// <summary>One JSON value as a tag's value, or why not: a string (a datetime when it is ISO 8601 with an offset), a number, a boolean or an array of strings.</summary>
    public static (TagValue? Value, string? Problem) FromJson(string key, JsonElement json, TagKind? declared, bool isText = false)
    {
        TagValue value;
        switch (json.ValueKind)
        {
            case JsonValueKind.String:
                return FromText(key, json.GetString()!, declared, quoted: true, isText);
            case JsonValueKind.Number:
                if (json.TryGetInt64(out var whole) && !json.GetRawText().AsSpan().ContainsAny(".eE")) value = TagValue.Of(whole);
                else if (json.TryGetDouble(out var real) && double.IsFinite(real)) value = TagValue.Of(real);
                else return (null, $"tags.{key}: {json.GetRawText()} is not a finite number");
                if (declared is TagKind.Float && value.Kind == TagKind.Integer) value = TagValue.Of((double)value.Integer);
                break;
            case JsonValueKind.True or JsonValueKind.False:
                value = TagValue.Of(json.GetBoolean());
                break;
            case JsonValueKind.Array:
                var items = new List<string>();
                foreach (var item in json.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String) return (null, $"tags.{key}: arrays hold strings only (found {Describe(item)})");
                    items.Add(item.GetString()!);
                }
                if (items.Count > MaxArrayItems) return (null, $"tags.{key}: at most {MaxArrayItems} items in an array (found {items.Count})");
                if (items.FirstOrDefault(i => StringProblem(i) is not null) is { } badItem) return (null, $"tags.{key}: {StringProblem(badItem)}");
                value = TagValue.Of(items.ToArray());
                break;
            case JsonValueKind.Null:
                return (null, $"tags.{key}: null is not a value (to remove a tag, PATCH the document with it set to null)");
            default:
                return (null, $"tags.{key}: {Describe(json)} is not a tag value; use a string, number, boolean, datetime string or array of strings");
        }
        return declared is { } kind && kind != value.Kind ? (null, Mismatch(key, kind, Describe(json))) : (value, null);
    }

    /// <summary>
    /// Text as a tag's value (a JSON string, or a form's or the CLI's "key=value"): a datetime when it is ISO 8601 with an
    /// offset, else a string; a declared field's type decides instead (text of a number for an integer field, and so on).
    /// </summary>
    public static (TagValue? Value, string? Problem) FromText(string key, string text, TagKind? declared, bool quoted = false, bool isText = false)
    {
        var shown = quoted ? JsonSerializer.Serialize(text) : $"'{Shorten(text)}'";
        switch (declared)
        {
            case TagKind.String or null:
                if (StringProblem(text, isText ? MaxTextCharacters : MaxStringLength) is { } bad) return (null, $"tags.{key}: {bad}");
                return declared is null && TagValue.TryParseInstant(text, out var ticks)
                    ? (TagValue.Of(new DateTimeOffset(ticks, TimeSpan.Zero)), null)
                    : (TagValue.Of(text), null);
            case TagKind.DateTime:
                return TagValue.TryParseInstant(text, out var instant) ? (TagValue.Of(new DateTimeOffset(instant, TimeSpan.Zero)), null)
                    : (null, Mismatch(key, TagKind.DateTime, "the string " + shown));
            case TagKind.Integer when !quoted && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole):
                return (TagValue.Of(whole), null);
            case TagKind.Float when !quoted && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real):
                return (TagValue.Of(real), null);
            case TagKind.Boolean when !quoted && text is "true" or "false":
                return (TagValue.Of(text == "true"), null);
            case TagKind.StringArray when !quoted:
                var items = text.Split('|');
                return items.Length > MaxArrayItems || items.Any(i => StringProblem(i) is not null)
                    ? (null, $"tags.{key}: an array of at most {MaxArrayItems} strings up to {MaxStringLength} characters, '|' between them")
                    : (TagValue.Of(items), null);
            default:
                return (null, Mismatch(key, declared.Value, (quoted ? "the string " : "") + shown));
        }
    }

    /// <summary>
    /// Why a document's whole set of stored tags is too large, or null. A value past a string's bound can only be a text
    /// field's (each value was checked against its declaration first), and those count against a bound of their own.
    /// </summary>
    public static string? SizeProblem(IReadOnlyDictionary<string, string> stored)
    {
        if (stored.Count > MaxTags) return $"at most {MaxTags} tags a document (this one has {stored.Count})";
        var (characters, text) = (0, 0);
        foreach (var (key, value) in stored)
            if (value.Length > MaxStringLength && TagValue.IsPlainString(value)) (characters, text) = (characters + key.Length, text + value.Length);
            else characters += key.Length + value.Length;
        return characters > MaxCharacters ? $"tags: at most {MaxCharacters} characters of names and values together (these have {characters})"
            : text > MaxTextCharacters ? $"tags: at most {MaxTextCharacters} characters of text fields together (these have {text})"
            : null;
    }

    /// <summary>Why a document's stored tags break a declared type (after a collection declares fields, or for plain-text tags), or null.</summary>
    public static string? DeclaredProblem(IReadOnlyDictionary<string, string> stored, IReadOnlyDictionary<string, string>? declared)
    {
        if (declared is null) return null;
        foreach (var (key, raw) in stored)
            if (DeclaredKind(declared, key) is { } kind && TagValue.FromStored(raw) is var value && value.Kind != kind)
                return Mismatch(key, kind, value.Kind == TagKind.String ? "the string " + JsonSerializer.Serialize(value.String) : TypeName(value.Kind) + " " + value);
        return null;
    }

    public static TagKind? DeclaredKind(IReadOnlyDictionary<string, string>? declared, string key) =>
        declared is not null && declared.TryGetValue(key, out var type) && FieldTypes.TryGetValue(type, out var kind) ? kind : null;

    /// <summary>Stored tags as JSON-ready values: strings, numbers, booleans, datetimes as ISO 8601 UTC strings, arrays.</summary>
    public static Dictionary<string, object> ToJson(IReadOnlyDictionary<string, string> stored)
    {
        var json = new Dictionary<string, object>(stored.Count, StringComparer.Ordinal);
        foreach (var (key, raw) in stored) json[key] = TagValue.IsPlainString(raw) ? raw : TagValue.FromStored(raw).ToObject();
        return json;
    }

    private static string? StringProblem(string text, int maxLength = MaxStringLength) =>
        text.Length > maxLength ? $"{(maxLength == MaxStringLength ? "strings" : "text fields")} are at most {maxLength} characters (found {text.Length})"
        : text.Contains('\0') ? "strings may not contain U+0000"
        : null;

    private static string Mismatch(string key, TagKind declared, string found) =>
        $"tags.{key}: the collection declares '{key}' as {TypeName(declared)}; got {found}";

    private static string Describe(JsonElement json) => json.ValueKind switch
    {
        JsonValueKind.String => "the string " + json.GetRawText(),
        JsonValueKind.Number => "the number " + json.GetRawText(),
        JsonValueKind.True or JsonValueKind.False => "the boolean " + json.GetRawText(),
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
