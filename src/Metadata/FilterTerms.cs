namespace RagCluster.Metadata;

/// <summary>
/// A parsed filter (<see cref="FilterParser"/>): a tree of these terms over a document's tags. <c>$ne</c>, <c>$nin</c> and
/// <c>$exists: false</c> are the <see cref="NotTerm"/> of their positive forms, so a chunk without the tag matches them.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.FilterTerm")]
public abstract record FilterTerm
{
    /// <summary>Whether tags (in their stored form) satisfy this term: the definition every index must agree with.</summary>
    public abstract bool Matches(IReadOnlyDictionary<string, string> tags);

    /// <summary>The term as filter JSON, with keys in a fixed order: the same filter gives the same text (a cache key, a shard query).</summary>
    public abstract void Write(System.Text.Json.Utf8JsonWriter w);
}

[GenerateSerializer, Immutable, Alias("rc.AllTerm")]
public sealed record AllTerm(FilterTerm[] Terms) : FilterTerm
{
    public override bool Matches(IReadOnlyDictionary<string, string> tags) => Terms.All(t => t.Matches(tags));
    public override void Write(System.Text.Json.Utf8JsonWriter w) => FilterWriting.List(w, "$and", Terms);
}

[GenerateSerializer, Immutable, Alias("rc.AnyTerm")]
public sealed record AnyTerm(FilterTerm[] Terms) : FilterTerm
{
    public override bool Matches(IReadOnlyDictionary<string, string> tags) => Terms.Any(t => t.Matches(tags));
    public override void Write(System.Text.Json.Utf8JsonWriter w) => FilterWriting.List(w, "$or", Terms);
}

[GenerateSerializer, Immutable, Alias("rc.NotTerm")]
public sealed record NotTerm(FilterTerm Term) : FilterTerm
{
    public override bool Matches(IReadOnlyDictionary<string, string> tags) => !Term.Matches(tags);
    public override void Write(System.Text.Json.Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WritePropertyName("$not");
        Term.Write(w);
        w.WriteEndObject();
    }
}

/// <summary>
/// A value a filter compares with: a string (which also names an instant when it is ISO 8601 with an offset, so it
/// matches datetime tags at that instant), a number or a boolean.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.FilterLiteral")]
public sealed record FilterLiteral(TagValue Value)
{
    // Parsed on first use, not in the constructor: a copy deserialized from the wire is made without running it.
    [NonSerialized] private long? _instant;
    [NonSerialized] private bool _instantKnown;

    /// <summary>The instant a string literal names, if it is one.</summary>
    public long? Instant
    {
        get
        {
            // Shared by threads (an immutable message is not copied on a local call): the value is written before the flag.
            if (Volatile.Read(ref _instantKnown)) return _instant;
            _instant = Value.Kind == TagKind.String && TagValue.TryParseInstant(Value.String, out var t) ? t : null;
            Volatile.Write(ref _instantKnown, true);
            return _instant;
        }
    }

    public bool Equals(FilterLiteral? other) => other is not null && Value.Equals(other.Value);

    public override int GetHashCode() => Value.GetHashCode();

    /// <summary>Whether a tag's value equals this (for an array of strings: holds it).</summary>
    public bool EqualTo(TagValue tag) => tag.Kind switch
    {
        TagKind.String => Value.Kind == TagKind.String && tag.String == Value.String,
        TagKind.DateTime => Instant == tag.Ticks,
        TagKind.Integer or TagKind.Float => Value.IsNumber && tag.Number == Value.Number,
        TagKind.Boolean => Value.Kind == TagKind.Boolean && tag.Boolean == Value.Boolean,
        // An array tag: equal to a string it holds, or to an array of the same items in the same order.
        _ => Value.Kind == TagKind.StringArray ? tag.Items.AsSpan().SequenceEqual(Value.Items) : Value.Kind == TagKind.String && Array.IndexOf(tag.Items, Value.String) >= 0,
    };
}

/// <summary><c>$eq</c> (one value) and <c>$in</c> (several): the tag equals one of them.</summary>
[GenerateSerializer, Immutable, Alias("rc.EqualsTerm")]
public sealed record EqualsTerm(string Field, FilterLiteral[] Values) : FilterTerm
{
    public override bool Matches(IReadOnlyDictionary<string, string> tags) =>
        tags.TryGetValue(Field, out var raw) && TagValue.FromStored(raw) is var tag && Values.Any(v => v.EqualTo(tag));

    public override void Write(System.Text.Json.Utf8JsonWriter w) =>
        FilterWriting.Field(w, Field, Values.Length == 1 ? "$eq" : "$in", Values.Length == 1 ? null : Values.Select(v => v.Value),
            Values.Length == 1 ? Values[0].Value : null);
}

/// <summary>A bound of a range: a number or an instant (UTC ticks).</summary>
[GenerateSerializer, Immutable, Alias("rc.RangeBound")]
public readonly record struct RangeBound(TagValue Value, bool Inclusive);

/// <summary><c>$gt</c>, <c>$gte</c>, <c>$lt</c>, <c>$lte</c> on one tag, together: numbers against numbers, instants against datetimes.</summary>
[GenerateSerializer, Immutable, Alias("rc.RangeTerm")]
public sealed record RangeTerm(string Field, bool Instants, RangeBound? Min, RangeBound? Max) : FilterTerm
{
    public override bool Matches(IReadOnlyDictionary<string, string> tags) =>
        tags.TryGetValue(Field, out var raw) && TagValue.FromStored(raw) is var tag
        && (Instants ? tag.Kind == TagKind.DateTime && Holds(tag.Ticks) : tag.IsNumber && Holds(tag.Number));

    public bool Holds(long ticks) =>
        (Min is not { } lo || (lo.Inclusive ? ticks >= lo.Value.Ticks : ticks > lo.Value.Ticks))
        && (Max is not { } hi || (hi.Inclusive ? ticks <= hi.Value.Ticks : ticks < hi.Value.Ticks));

    public bool Holds(double number) =>
        (Min is not { } lo || (lo.Inclusive ? number >= lo.Value.Number : number > lo.Value.Number))
        && (Max is not { } hi || (hi.Inclusive ? number <= hi.Value.Number : number < hi.Value.Number));

    public override void Write(System.Text.Json.Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WritePropertyName(Field);
        w.WriteStartObject();
        if (Min is { } lo) { w.WritePropertyName(lo.Inclusive ? "$gte" : "$gt"); lo.Value.WriteTo(w); }
        if (Max is { } hi) { w.WritePropertyName(hi.Inclusive ? "$lte" : "$lt"); hi.Value.WriteTo(w); }
        w.WriteEndObject();
        w.WriteEndObject();
    }
}

/// <summary><c>$exists: true</c>: the chunk's document has the tag, whatever its value.</summary>
[GenerateSerializer, Immutable, Alias("rc.ExistsTerm")]
public sealed record ExistsTerm(string Field) : FilterTerm
{
    public override bool Matches(IReadOnlyDictionary<string, string> tags) => tags.ContainsKey(Field);
    public override void Write(System.Text.Json.Utf8JsonWriter w) => FilterWriting.Field(w, Field, "$exists", null, TagValue.Of(true));
}

/// <summary><c>$containsAny</c> / <c>$containsAll</c>: an array tag (or a string tag, as an array of one) holds any / all of the strings.</summary>
[GenerateSerializer, Immutable, Alias("rc.ContainsTerm")]
public sealed record ContainsTerm(string Field, string[] Values, bool All) : FilterTerm
{
    public override bool Matches(IReadOnlyDictionary<string, string> tags)
    {
        if (!tags.TryGetValue(Field, out var raw)) return false;
        var tag = TagValue.FromStored(raw);
        string[] items = tag.Kind switch { TagKind.StringArray => tag.Items, TagKind.String => [tag.String], _ => [] };
        return All ? Values.All(v => items.Contains(v)) : Values.Any(v => items.Contains(v));
    }

    public override void Write(System.Text.Json.Utf8JsonWriter w) =>
        FilterWriting.Field(w, Field, All ? "$containsAll" : "$containsAny", Values.Select(TagValue.Of), null);
}

internal static class FilterWriting
{
    public static void List(System.Text.Json.Utf8JsonWriter w, string op, FilterTerm[] terms)
    {
        w.WriteStartObject();
        w.WriteStartArray(op);
        foreach (var t in terms) t.Write(w);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static void Field(System.Text.Json.Utf8JsonWriter w, string field, string op, IEnumerable<TagValue>? list, TagValue? one)
    {
        w.WriteStartObject();
        w.WritePropertyName(field);
        w.WriteStartObject();
        w.WritePropertyName(op);
        if (list is null) one!.Value.WriteTo(w);
        else
        {
            w.WriteStartArray();
            foreach (var v in list) v.WriteTo(w);
            w.WriteEndArray();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
