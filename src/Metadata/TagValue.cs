using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace RagCluster.Metadata;

/// <summary>The types a tag's value may have.</summary>
public enum TagKind : byte { String, Integer, Float, Boolean, DateTime, StringArray }

/// <summary>
/// One tag's value: a string, an integer, a float, a boolean, a UTC instant or an array of strings.
/// Typed values are stored as strings in the tag dictionaries that every stored record already has ("\0" then a type
/// letter then the value), so grain states, shard logs, snapshots and backups written before typed tags read unchanged:
/// a plain string is stored as itself, and no tag string may contain U+0000.
/// </summary>
public readonly partial struct TagValue : IEquatable<TagValue>
{
    private const char Marker = '\0';
    private readonly string? _text;     // String
    private readonly long _whole;       // Integer; DateTime (UTC ticks); Boolean (0/1)
    private readonly double _real;      // Float
    private readonly string[]? _items;  // StringArray

    public TagKind Kind { get; }

    private TagValue(TagKind kind, string? text = null, long whole = 0, double real = 0, string[]? items = null) =>
        (Kind, _text, _whole, _real, _items) = (kind, text, whole, real, items);

    public static TagValue Of(string value) => new(TagKind.String, value);
    public static TagValue Of(long value) => new(TagKind.Integer, whole: value);
    public static TagValue Of(double value) => new(TagKind.Float, real: value);
    public static TagValue Of(bool value) => new(TagKind.Boolean, whole: value ? 1 : 0);
    public static TagValue Of(DateTimeOffset value) => new(TagKind.DateTime, whole: value.UtcTicks);
    public static TagValue Of(string[] value) => new(TagKind.StringArray, items: value);

    public string String => _text!;
    public long Integer => _whole;
    public bool Boolean => _whole != 0;
    public long Ticks => _whole;
    public string[] Items => _items!;
    public bool IsNumber => Kind is TagKind.Integer or TagKind.Float;
    /// <summary>An integer or a float as a double: numbers compare by value whichever they are (integers past 2^53 approximately).</summary>
    public double Number => Kind == TagKind.Integer ? _whole : _real;

    /// <summary>The value as the tag dictionaries store it.</summary>
    public string ToStored() => Kind switch
    {
        TagKind.String => _text!,
        TagKind.Integer => Marker + "i" + _whole.ToString(CultureInfo.InvariantCulture),
        TagKind.Float => Marker + "f" + _real.ToString("R", CultureInfo.InvariantCulture),
        TagKind.Boolean => Marker + (_whole != 0 ? "b1" : "b0"),
        TagKind.DateTime => Marker + "d" + _whole.ToString(CultureInfo.InvariantCulture),
        _ => Marker + "a" + JsonSerializer.Serialize(_items!),
    };

    /// <summary>A stored value back (one that does not start with the marker is a plain string, as every tag before typed tags).</summary>
    public static TagValue FromStored(string stored)
    {
        if (stored.Length < 2 || stored[0] != Marker) return Of(stored);
        var body = stored.AsSpan(2);
        return stored[1] switch
        {
            'i' => Of(long.Parse(body, CultureInfo.InvariantCulture)),
            'f' => Of(double.Parse(body, CultureInfo.InvariantCulture)),
            'b' => Of(body is "1"),
            'd' => new TagValue(TagKind.DateTime, whole: long.Parse(body, CultureInfo.InvariantCulture)),
            'a' => Of(JsonSerializer.Deserialize<string[]>(body) ?? []),
            _ => Of(stored),
        };
    }

    /// <summary>Whether a stored value is a plain string (the common case, read without decoding).</summary>
    public static bool IsPlainString(string stored) => stored.Length == 0 || stored[0] != Marker;

    /// <summary>The value as JSON: a datetime as ISO 8601 in UTC ("2024-03-01T09:30:00Z").</summary>
    public void WriteTo(Utf8JsonWriter w)
    {
        switch (Kind)
        {
            case TagKind.String: w.WriteStringValue(_text); break;
            case TagKind.Integer: w.WriteNumberValue(_whole); break;
            case TagKind.Float: w.WriteNumberValue(_real); break;
            case TagKind.Boolean: w.WriteBooleanValue(_whole != 0); break;
            case TagKind.DateTime: w.WriteStringValue(FormatInstant(_whole)); break;
            default:
                w.WriteStartArray();
                foreach (var item in _items!) w.WriteStringValue(item);
                w.WriteEndArray();
                break;
        }
    }

    /// <summary>The value as a plain .NET object for JSON replies: string, long, double, bool, an ISO 8601 UTC string, or string[].</summary>
    public object ToObject() => Kind switch
    {
        TagKind.String => _text!,
        TagKind.Integer => _whole,
        TagKind.Float => _real,
        TagKind.Boolean => _whole != 0,
        TagKind.DateTime => FormatInstant(_whole),
        _ => _items!,
    };

    public override string ToString() => Kind switch
    {
        TagKind.String => _text!,
        TagKind.DateTime => FormatInstant(_whole),
        TagKind.StringArray => "[" + string.Join(", ", _items!) + "]",
        _ => Convert.ToString(ToObject(), CultureInfo.InvariantCulture)!,
    };

    public static string FormatInstant(long utcTicks) =>
        new DateTime(utcTicks, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    /// <summary>An ISO 8601 date and time with an offset ("2024-03-01T09:30:00Z", "2024-03-01T11:30+02:00") as UTC ticks; nothing looser.</summary>
    public static bool TryParseInstant(string text, out long utcTicks)
    {
        utcTicks = 0;
        if (text.Length is < 17 or > 40 || !InstantShape().IsMatch(text)) return false;
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var instant)) return false;
        utcTicks = instant.UtcTicks;
        return true;
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$")]
    private static partial Regex InstantShape();

    public bool Equals(TagValue other) => Kind == other.Kind && Kind switch
    {
        TagKind.String => _text == other._text,
        TagKind.Float => _real.Equals(other._real),
        TagKind.StringArray => _items!.AsSpan().SequenceEqual(other._items),
        _ => _whole == other._whole,
    };

    public override bool Equals(object? obj) => obj is TagValue other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(Kind, _text, _whole, _real, _items?.Length);
}
