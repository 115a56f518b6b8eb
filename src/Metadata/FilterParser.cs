using System.Text.Json;

namespace RagCluster.Metadata;

/// <summary>
/// The filter language, one JSON shape on every route that filters: <c>$and</c>, <c>$or</c>, <c>$not</c>, and per tag
/// <c>$eq</c>, <c>$ne</c>, <c>$in</c>, <c>$nin</c>, <c>$gt</c>, <c>$gte</c>, <c>$lt</c>, <c>$lte</c>, <c>$exists</c>,
/// <c>$containsAny</c>, <c>$containsAll</c> (the operators Pinecone and Chroma users write); <c>{"lang":"en"}</c> is
/// <c>$eq</c>, and several keys in one object must all hold. A problem says where in the filter it is
/// (<c>filter.$or[1].year.$gte: …</c>), for a 400.
/// </summary>
public static class FilterParser
{
    public const int MaxDepth = 8;
    public const int MaxConditions = 64;
    public const int MaxListValues = 1024;

    private static readonly string[] FieldOperators =
        ["$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$containsAny", "$containsAll"];

    /// <summary>Filter JSON text into its terms (null: no filter, "{}" or empty), or the problem.</summary>
    public static (FilterTerm? Filter, string? Problem) Parse(string? json, IReadOnlyDictionary<string, string>? declared = null)
    {
        if (string.IsNullOrWhiteSpace(json)) return (null, null);
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
            return Parse(doc.RootElement, declared);
        }
        catch (JsonException e)
        {
            return (null, "filter: not JSON (" + e.Message.Split('.')[0] + ")");
        }
    }

    public static (FilterTerm? Filter, string? Problem) Parse(JsonElement json, IReadOnlyDictionary<string, string>? declared = null) =>
        Parse(json, declared, 0);

    /// <summary>
    /// A filter's canonical JSON (<see cref="Canonical"/>) back to terms, with the room an access trim
    /// (the contracts' <c>DocumentAccess</c>) takes: one level and one condition past the caller's limits. Shards no
    /// longer read text (the query plan sends them terms, parsed once); tests and tools that hold a filter as JSON use it.
    /// </summary>
    public static FilterTerm? ParseCanonical(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return null;
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        var (term, problem) = Parse(doc.RootElement, null, 1);
        return problem is null ? term : throw new ArgumentException("a filter the query planner wrote does not parse: " + problem);
    }

    private static (FilterTerm? Filter, string? Problem) Parse(JsonElement json, IReadOnlyDictionary<string, string>? declared, int slack)
    {
        if (json.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) return (null, null);
        var state = new State(declared, slack);
        try
        {
            var term = state.Object(json, "filter", 1);
            return (term, null);
        }
        catch (FilterProblem p)
        {
            return (null, p.Message);
        }
    }

    /// <summary>The equalities filters were before the language (<c>{"lang":"en"}</c>, all must hold).</summary>
    public static FilterTerm? FromEqualities(IReadOnlyDictionary<string, string>? equalities) =>
        equalities is null || equalities.Count == 0 ? null
        : All(equalities.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => (FilterTerm)new EqualsTerm(e.Key, [new FilterLiteral(TagValue.Of(e.Value))])).ToList());

    /// <summary>The filter as compact JSON in a fixed form: what goes to the shards, and into cache keys.</summary>
    public static string Canonical(FilterTerm term)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer)) term.Write(w);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static FilterTerm All(List<FilterTerm> terms) => terms.Count == 1 ? terms[0] : new AllTerm(terms.ToArray());

    private sealed class FilterProblem(string message) : Exception(message);

    private sealed class State(IReadOnlyDictionary<string, string>? declared, int slack)
    {
        private int _conditions;

        public FilterTerm? Object(JsonElement json, string path, int depth)
        {
            if (depth > MaxDepth + slack) throw new FilterProblem($"{path}: nested deeper than {MaxDepth} levels");
            if (json.ValueKind != JsonValueKind.Object)
                throw new FilterProblem($"{path}: expects an object such as {{\"lang\":\"en\"}} or {{\"$or\":[…]}}, got {Describe(json)}");
            var terms = new List<FilterTerm>();
            foreach (var p in json.EnumerateObject())
            {
                var at = $"{path}.{p.Name}";
                switch (p.Name)
                {
                    case "$and" or "$or":
                        if (p.Value.ValueKind != JsonValueKind.Array || p.Value.GetArrayLength() == 0)
                            throw new FilterProblem($"{at}: expects a non-empty array of filters");
                        var parts = new List<FilterTerm>();
                        var i = 0;
                        foreach (var item in p.Value.EnumerateArray())
                        {
                            var part = Object(item, $"{at}[{i++}]", depth + 1);
                            if (part is null) throw new FilterProblem($"{at}[{i - 1}]: an empty filter");
                            parts.Add(part);
                        }
                        terms.Add(parts.Count == 1 ? parts[0] : p.Name == "$and" ? new AllTerm(parts.ToArray()) : new AnyTerm(parts.ToArray()));
                        break;
                    case "$not":
                        terms.Add(new NotTerm(Object(p.Value, at, depth + 1) ?? throw new FilterProblem($"{at}: an empty filter")));
                        break;
                    default:
                        if (p.Name.StartsWith('$'))
                            throw new FilterProblem($"{at}: unknown operator '{p.Name}' here; use $and, $or, $not or a tag name");
                        if (TagRules.KeyProblem(p.Name) is { } badKey) throw new FilterProblem($"{path}: {badKey}");
                        terms.AddRange(Field(p.Name, p.Value, at));
                        break;
                }
            }
            return terms.Count == 0 ? null : All(terms);
        }

        private IEnumerable<FilterTerm> Field(string field, JsonElement json, string path)
        {
            var kind = TagRules.DeclaredKind(declared, field);
            if (json.ValueKind != JsonValueKind.Object) return [Counted(new EqualsTerm(field, [Literal(json, path, kind)]), path)];
            var terms = new List<FilterTerm>();
            RangeBound? min = null, max = null;
            bool? instants = null;
            foreach (var op in json.EnumerateObject())
            {
                var at = $"{path}.{op.Name}";
                switch (op.Name)
                {
                    case "$eq": terms.Add(Counted(new EqualsTerm(field, [Literal(op.Value, at, kind, wholeArray: true)]), at)); break;
                    case "$ne": terms.Add(Counted(new NotTerm(new EqualsTerm(field, [Literal(op.Value, at, kind, wholeArray: true)])), at)); break;
                    case "$in": terms.Add(Counted(new EqualsTerm(field, List(op.Value, at).Select((v, i) => Literal(v, $"{at}[{i}]", kind)).ToArray()), at)); break;
                    case "$nin": terms.Add(Counted(new NotTerm(new EqualsTerm(field, List(op.Value, at).Select((v, i) => Literal(v, $"{at}[{i}]", kind)).ToArray())), at)); break;
                    case "$gt" or "$gte" or "$lt" or "$lte":
                        var (bound, isInstant) = Bound(op.Value, at, kind, op.Name.EndsWith('e'));
                        if (instants is { } sameKind && sameKind != isInstant)
                            throw new FilterProblem($"{at}: a range compares numbers or datetimes, not one of each");
                        instants = isInstant;
                        if (op.Name.StartsWith("$g"))
                            min = min is null ? bound : throw new FilterProblem($"{at}: '{field}' already has a lower bound");
                        else max = max is null ? bound : throw new FilterProblem($"{at}: '{field}' already has an upper bound");
                        break;
                    case "$exists":
                        if (op.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                            throw new FilterProblem($"{at}: expects true or false, got {Describe(op.Value)}");
                        terms.Add(Counted(op.Value.GetBoolean() ? new ExistsTerm(field) : new NotTerm(new ExistsTerm(field)), at));
                        break;
                    case "$containsAny" or "$containsAll":
                        if (kind is not (null or TagKind.StringArray or TagKind.String))
                            throw new FilterProblem($"{at}: the collection declares '{field}' as {TagRules.TypeName(kind.Value)}; {op.Name} needs an array of strings");
                        var strings = List(op.Value, at).Select((v, i) => v.ValueKind == JsonValueKind.String ? NoNul(v.GetString()!, $"{at}[{i}]")
                            : throw new FilterProblem($"{at}[{i}]: expects a string, got {Describe(v)}")).ToArray();
                        terms.Add(Counted(new ContainsTerm(field, strings, op.Name == "$containsAll"), at));
                        break;
                    default:
                        throw new FilterProblem(op.Name.StartsWith('$')
                            ? $"{at}: unknown operator '{op.Name}'; use {string.Join(", ", FieldOperators)}"
                            : $"{path}: '{op.Name}' is not an operator (tags are not nested; operators start with '$')");
                }
            }
            if (min is not null || max is not null) terms.Add(Counted(new RangeTerm(field, instants!.Value, min, max), path));
            if (terms.Count == 0) throw new FilterProblem($"{path}: no operator; use {string.Join(", ", FieldOperators)}");
            return terms;
        }

        private FilterTerm Counted(FilterTerm term, string path) =>
            ++_conditions > MaxConditions + slack ? throw new FilterProblem($"{path}: a filter holds at most {MaxConditions} conditions") : term;

        private static List<JsonElement> List(JsonElement json, string path)
        {
            if (json.ValueKind != JsonValueKind.Array) throw new FilterProblem($"{path}: expects an array, got {Describe(json)}");
            var n = json.GetArrayLength();
            if (n is 0 or > MaxListValues) throw new FilterProblem($"{path}: expects 1..{MaxListValues} values, got {n}");
            return json.EnumerateArray().ToList();
        }

        // Tag strings cannot hold U+0000 (typed values are stored behind it), so a filter string with one matches nothing: refused.
        private static string NoNul(string text, string path) =>
            text.Contains('\0') ? throw new FilterProblem($"{path}: strings may not contain U+0000")
            : text.Length > TagRules.MaxStringLength ? throw new FilterProblem($"{path}: strings are at most {TagRules.MaxStringLength} characters, as tags are (this one has {text.Length})")
            : text;

        private static FilterLiteral Literal(JsonElement json, string path, TagKind? kind, bool wholeArray = false)
        {
            TagValue value;
            switch (json.ValueKind)
            {
                case JsonValueKind.String:
                    value = TagValue.Of(NoNul(json.GetString()!, path));
                    break;
                case JsonValueKind.Number when json.TryGetDouble(out var number) && double.IsFinite(number):
                    value = json.TryGetInt64(out var whole) && !json.GetRawText().AsSpan().ContainsAny(".eE") ? TagValue.Of(whole) : TagValue.Of(number);
                    break;
                case JsonValueKind.True or JsonValueKind.False:
                    value = TagValue.Of(json.GetBoolean());
                    break;
                // $eq and $ne with an array: an array tag holding exactly these items, in this order (MongoDB's equality with
                // an array). The short form {"tag": [...]} stays a 400: it reads as a set as often as an array.
                case JsonValueKind.Array when wholeArray:
                    var items = new List<string>();
                    foreach (var item in json.EnumerateArray())
                        items.Add(item.ValueKind == JsonValueKind.String ? NoNul(item.GetString()!, path)
                            : throw new FilterProblem($"{path}: an array to compare with holds strings only (found {Describe(item)})"));
                    if (items.Count > TagRules.MaxArrayItems) throw new FilterProblem($"{path}: an array tag holds at most {TagRules.MaxArrayItems} items (this one has {items.Count})");
                    value = TagValue.Of(items.ToArray());
                    break;
                case JsonValueKind.Array:
                    throw new FilterProblem($"{path}: expects one value; for a set use $in, for an array tag $containsAny or $containsAll, for the whole array $eq");
                default:
                    throw new FilterProblem($"{path}: expects a string, number or boolean, got {Describe(json)}");
            }
            var literal = new FilterLiteral(value);
            if (kind is { } k && !Fits(literal, k))
                throw new FilterProblem($"{path}: the collection declares this tag as {TagRules.TypeName(k)}; got {Describe(json)}");
            return literal;
        }

        private static bool Fits(FilterLiteral literal, TagKind kind) => kind switch
        {
            TagKind.String => literal.Value.Kind == TagKind.String,
            TagKind.StringArray => literal.Value.Kind is TagKind.String or TagKind.StringArray,
            TagKind.Integer or TagKind.Float => literal.Value.IsNumber,
            TagKind.Boolean => literal.Value.Kind == TagKind.Boolean,
            _ => literal.Instant is not null,
        };

        private static (RangeBound Bound, bool Instant) Bound(JsonElement json, string path, TagKind? kind, bool inclusive)
        {
            if (kind is not (null or TagKind.Integer or TagKind.Float or TagKind.DateTime))
                throw new FilterProblem($"{path}: the collection declares this tag as {TagRules.TypeName(kind.Value)}; ranges compare numbers and datetimes");
            if (json.ValueKind == JsonValueKind.Number && kind is not TagKind.DateTime && json.TryGetDouble(out var number) && double.IsFinite(number))
                return (new RangeBound(TagValue.Of(number), inclusive), false);
            if (json.ValueKind == JsonValueKind.String && kind is not (TagKind.Integer or TagKind.Float) && TagValue.TryParseInstant(json.GetString()!, out var ticks))
                return (new RangeBound(TagValue.Of(new DateTimeOffset(ticks, TimeSpan.Zero)), inclusive), true);
            throw new FilterProblem(kind switch
            {
                TagKind.DateTime => $"{path}: expects a datetime (ISO 8601 with an offset, as 2024-01-01T00:00:00Z), got {Describe(json)}",
                TagKind.Integer or TagKind.Float => $"{path}: expects a number, got {Describe(json)}",
                _ => $"{path}: expects a number or a datetime (ISO 8601 with an offset, as 2024-01-01T00:00:00Z), got {Describe(json)}",
            });
        }
    }

    private static string Describe(JsonElement json) => json.ValueKind switch
    {
        JsonValueKind.String => "the string " + Shorten(json.GetRawText()),
        JsonValueKind.Number => "the number " + Shorten(json.GetRawText()),
        JsonValueKind.True or JsonValueKind.False => json.GetRawText(),
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
