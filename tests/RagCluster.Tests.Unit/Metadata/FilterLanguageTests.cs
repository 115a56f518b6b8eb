using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using RagCluster.Metadata;

namespace RagCluster.Tests.Rag;

/// <summary>The filter language's parser and type rules, and typed tags: what is accepted, and the exact problem text of what is not.</summary>
[Trait("Category", "Unit")]
public sealed class FilterLanguageTests
{
    private static readonly Dictionary<string, string> Declared = new()
    {
        ["year"] = "integer", ["price"] = "float", ["published"] = "datetime", ["draft"] = "boolean", ["groups"] = "string[]", ["lang"] = "string",
    };

    [Theory]
    [InlineData("""{"lang":"en"}""", """{"lang":{"$eq":"en"}}""")]
    [InlineData("""{"lang":"en","year":2024}""", """{"$and":[{"lang":{"$eq":"en"}},{"year":{"$eq":2024}}]}""")]
    [InlineData("""{"year":{"$gte":2020,"$lt":2025}}""", """{"year":{"$gte":2020,"$lt":2025}}""")]
    [InlineData("""{"published":{"$gt":"2024-01-01T02:00:00+02:00"}}""", """{"published":{"$gt":"2024-01-01T00:00:00Z"}}""")]
    [InlineData("""{"lang":{"$ne":"en"}}""", """{"$not":{"lang":{"$eq":"en"}}}""")]
    [InlineData("""{"lang":{"$in":["en","de"]}}""", """{"lang":{"$in":["en","de"]}}""")]
    [InlineData("""{"lang":{"$nin":["en"]}}""", """{"$not":{"lang":{"$eq":"en"}}}""")]
    [InlineData("""{"lang":{"$nin":["en","de"]}}""", """{"$not":{"lang":{"$in":["en","de"]}}}""")]
    [InlineData("""{"lang":{"$exists":false}}""", """{"$not":{"lang":{"$exists":true}}}""")]
    [InlineData("""{"groups":{"$containsAll":["hr","legal"]}}""", """{"groups":{"$containsAll":["hr","legal"]}}""")]
    [InlineData("""{"$or":[{"dept":"hr"},{"$not":{"draft":true}}]}""", """{"$or":[{"dept":{"$eq":"hr"}},{"$not":{"draft":{"$eq":true}}}]}""")]
    [InlineData("""{"$and":[{"a":1.5}]}""", """{"a":{"$eq":1.5}}""")]
    public void Good_filters_parse_to_one_canonical_form(string filter, string canonical)
    {
        var (term, problem) = FilterParser.Parse(filter);
        Assert.Null(problem);
        Assert.Equal(canonical, FilterParser.Canonical(term!));
        // The canonical text is what the shards parse: it reads back as itself.
        Assert.Equal(canonical, FilterParser.Canonical(FilterParser.Parse(canonical).Filter!));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("null")]
    [InlineData("")]
    public void Empty_filters_are_no_filter(string filter) => Assert.Equal((null, null), FilterParser.Parse(filter));

    [Theory]
    [InlineData("""[1]""", "filter: expects an object such as {\"lang\":\"en\"} or {\"$or\":[…]}, got an array")]
    [InlineData("""{"lang":null}""", "filter.lang: expects a string, number or boolean, got null")]
    [InlineData("""{"lang":["en","de"]}""", "filter.lang: expects one value; for a set use $in, for an array tag $containsAny or $containsAll, for the whole array $eq")]
    [InlineData("""{"lang":{"$like":"e%"}}""", "filter.lang.$like: unknown operator '$like'; use $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $exists, $containsAny, $containsAll")]
    [InlineData("""{"$nor":[{"a":1}]}""", "filter.$nor: unknown operator '$nor' here; use $and, $or, $not or a tag name")]
    [InlineData("""{"meta":{"lang":"en"}}""", "filter.meta: 'lang' is not an operator (tags are not nested; operators start with '$')")]
    [InlineData("""{"$or":[]}""", "filter.$or: expects a non-empty array of filters")]
    [InlineData("""{"$or":[{"a":1},{}]}""", "filter.$or[1]: an empty filter")]
    [InlineData("""{"$or":[{"a":1},{"b":{"$gt":"soon"}}]}""", "filter.$or[1].b.$gt: expects a number or a datetime (ISO 8601 with an offset, as 2024-01-01T00:00:00Z), got the string \"soon\"")]
    [InlineData("""{"a":{"$gt":1,"$gte":2}}""", "filter.a.$gte: 'a' already has a lower bound")]
    [InlineData("""{"a":{"$gt":1,"$lt":"2024-01-01T00:00:00Z"}}""", "filter.a.$lt: a range compares numbers or datetimes, not one of each")]
    [InlineData("""{"a":{"$in":[]}}""", "filter.a.$in: expects 1..1024 values, got 0")]
    [InlineData("""{"a":{"$in":"x"}}""", "filter.a.$in: expects an array, got the string \"x\"")]
    [InlineData("""{"a":{"$exists":"yes"}}""", "filter.a.$exists: expects true or false, got the string \"yes\"")]
    [InlineData("""{"a":{"$containsAny":["x",1]}}""", "filter.a.$containsAny[1]: expects a string, got the number 1")]
    [InlineData("""{"a":{}}""", "filter.a: no operator; use $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $exists, $containsAny, $containsAll")]
    [InlineData("""{"$bad":1}""", "filter.$bad: unknown operator '$bad' here; use $and, $or, $not or a tag name")]
    [InlineData("""{"a":"x\u0000y"}""", "filter.a: strings may not contain U+0000")]
    [InlineData("""{"a":{"$in":["ok","xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]}}""", "filter.a.$in[1]: strings are at most 256 characters, as tags are (this one has 257)")]
    [InlineData("""{"lang":""", "filter: not JSON (Expected depth to be zero at the end of the JSON payload)")]
    public void Bad_filters_say_where(string filter, string problem) => Assert.Equal(problem, FilterParser.Parse(filter).Problem);

    [Theory]
    [InlineData("""{"year":"2024"}""", "filter.year: the collection declares this tag as integer; got the string \"2024\"")]
    [InlineData("""{"year":{"$gte":"2024-01-01T00:00:00Z"}}""", "filter.year.$gte: expects a number, got the string \"2024-01-01T00:00:00Z\"")]
    [InlineData("""{"published":{"$gte":2024}}""", "filter.published.$gte: expects a datetime (ISO 8601 with an offset, as 2024-01-01T00:00:00Z), got the number 2024")]
    [InlineData("""{"published":"2024-01-01"}""", "filter.published: the collection declares this tag as datetime; got the string \"2024-01-01\"")]
    [InlineData("""{"draft":"no"}""", "filter.draft: the collection declares this tag as boolean; got the string \"no\"")]
    [InlineData("""{"lang":{"$gt":3}}""", "filter.lang.$gt: the collection declares this tag as string; ranges compare numbers and datetimes")]
    [InlineData("""{"year":{"$containsAny":["a"]}}""", "filter.year.$containsAny: the collection declares 'year' as integer; $containsAny needs an array of strings")]
    [InlineData("""{"price":{"$in":[1,"two"]}}""", "filter.price.$in[1]: the collection declares this tag as float; got the string \"two\"")]
    public void Declared_fields_check_a_filters_types(string filter, string problem) =>
        Assert.Equal(problem, FilterParser.Parse(filter, Declared).Problem);

    [Fact]
    public void Filters_are_bounded_in_depth_and_conditions()
    {
        var deep = "{\"a\":1}";
        for (var i = 0; i < FilterParser.MaxDepth; i++) deep = "{\"$not\":" + deep + "}";
        Assert.Equal("filter" + string.Concat(Enumerable.Repeat(".$not", FilterParser.MaxDepth)) + ": nested deeper than 8 levels", FilterParser.Parse(deep).Problem);
        var many = "{" + string.Join(',', Enumerable.Range(0, FilterParser.MaxConditions + 1).Select(i => $"\"t{i}\":{i}")) + "}";
        Assert.Equal("filter.t64: a filter holds at most 64 conditions", FilterParser.Parse(many).Problem);
    }

    [Theory]
    [InlineData("""{"lang":"en","year":2024,"price":9.5,"draft":false,"published":"2024-03-01T10:00:00+01:00","groups":["hr","legal"],"note":"2024-03-01"}""",
        """{"lang":"en","year":2024,"price":9.5,"draft":false,"published":"2024-03-01T09:00:00Z","groups":["hr","legal"],"note":"2024-03-01"}""")]
    [InlineData("""{"big":9007199254740993,"neg":-3,"exp":1e3}""", """{"big":9007199254740993,"neg":-3,"exp":1000}""")]
    public void Typed_tags_are_stored_and_read_back(string tags, string readBack)
    {
        var (stored, problem) = TagRules.FromJson(JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(tags), null);
        Assert.Null(problem);
        Assert.Equal(readBack, JsonSerializer.Serialize(TagRules.ToJson(stored!)));
        // A plain string is stored as itself, as every tag was before typed tags.
        if (stored!.TryGetValue("lang", out var lang)) Assert.Equal("en", lang);
    }

    [Theory]
    [InlineData("""{"year":"2024"}""", "tags.year: the collection declares 'year' as integer; got the string \"2024\"")]
    [InlineData("""{"year":2024.5}""", "tags.year: the collection declares 'year' as integer; got the number 2024.5")]
    [InlineData("""{"published":"yesterday"}""", "tags.published: the collection declares 'published' as datetime; got the string \"yesterday\"")]
    [InlineData("""{"groups":"hr"}""", "tags.groups: the collection declares 'groups' as string[]; got the string \"hr\"")]
    [InlineData("""{"lang":null}""", "tags.lang: null is not a value (to remove a tag, PATCH the document with it set to null)")]
    [InlineData("""{"meta":{"a":1}}""", "tags.meta: an object is not a tag value; use a string, number, boolean, datetime string or array of strings")]
    [InlineData("""{"list":[1,2]}""", "tags.list: arrays hold strings only (found the number 1)")]
    [InlineData("""{"$where":"x"}""", "tag '$where': names may not start with '$' (filters use it for operators)")]
    [InlineData("""{"":"x"}""", "tag names are 1..64 characters ('' is 0)")]
    [InlineData("""{"a":"\u0000i5"}""", "tags.a: strings may not contain U+0000")]
    public void Bad_tags_name_the_tag(string tags, string problem) =>
        Assert.Equal(problem, TagRules.FromJson(JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(tags), Declared).Problem);

    [Fact]
    public void Tag_limits_are_counted_per_document()
    {
        var many = Enumerable.Range(0, TagRules.MaxTags + 1).ToDictionary(i => $"t{i}", i => JsonSerializer.SerializeToElement(i));
        Assert.Equal("at most 32 tags a document (this one has 33)", TagRules.FromJson(many, null).Problem);
        var longArray = JsonSerializer.SerializeToElement(Enumerable.Range(0, TagRules.MaxArrayItems + 1).Select(i => $"v{i}"));
        Assert.Equal("tags.a: at most 100 items in an array (found 101)", TagRules.FromJson(new Dictionary<string, JsonElement> { ["a"] = longArray }, null).Problem);
        var big = Enumerable.Range(0, 30).ToDictionary(i => $"t{i}", _ => JsonSerializer.SerializeToElement(Enumerable.Range(0, 10).Select(_ => new string('x', 60))));
        Assert.StartsWith("tags: at most 16384 characters of names and values together", TagRules.FromJson(big, null).Problem);
        Assert.Equal("fields.when: unknown type 'date'; use string, integer, float, boolean, datetime, string[], text",
            TagRules.DeclarationProblem(new Dictionary<string, string> { ["when"] = "date" }));
        // A text field's value may pass a string's 256 characters, up to its own bound, which the document's others do not share.
        var text = new Dictionary<string, string> { ["body"] = "text" };
        var tagsOf = (string body) => new Dictionary<string, JsonElement> { ["body"] = JsonSerializer.SerializeToElement(body), ["t"] = JsonSerializer.SerializeToElement(new string('x', 256)) };
        Assert.Null(TagRules.FromJson(tagsOf(new string('w', 20_000)), text).Problem);
        Assert.Equal("tags.body: strings are at most 256 characters (found 300)", TagRules.FromJson(tagsOf(new string('w', 300)), null).Problem);
        Assert.Equal("tags.body: text fields are at most 65536 characters (found 65537)", TagRules.FromJson(tagsOf(new string('w', 65_537)), text).Problem);
    }

    [Fact]
    public void Equality_on_a_datetime_string_matches_the_instant_and_the_same_text()
    {
        var typed = Stored("""{"at":"2024-03-01T10:00:00+01:00"}""");
        var legacy = new Dictionary<string, string> { ["at"] = "2024-03-01T09:00:00Z" }; // a string tag stored before typed tags
        var filter = FilterParser.Parse("""{"at":"2024-03-01T09:00:00Z"}""").Filter!;
        Assert.True(filter.Matches(typed));
        Assert.True(filter.Matches(legacy));
        Assert.False(FilterParser.Parse("""{"at":{"$gt":"2024-03-01T08:59:59Z"}}""").Filter!.Matches(legacy)); // ranges compare datetimes only
        Assert.True(FilterParser.Parse("""{"at":{"$gt":"2024-03-01T08:59:59Z"}}""").Filter!.Matches(typed));
    }

    [Fact]
    public void A_filter_crosses_a_grain_call_as_terms_and_matches_the_same()
    {
        // The shards get the query plan's terms through Orleans' serializer: every kind of literal must arrive whole,
        // a string naming an instant included (its instant is parsed on first use, after the copy is made).
        var serializer = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(FilterTerm).Assembly)).BuildServiceProvider().GetRequiredService<Serializer>();
        var (term, problem) = FilterParser.Parse("""{"$or":[{"published":"2024-05-01T12:00:00+02:00"},{"$and":[{"price":{"$gt":1.5,"$lte":9.25}},""" +
            """{"groups":{"$containsAny":["hr"]}},{"$not":{"draft":true}},{"lang":{"$in":["en","de"]}},{"year":{"$exists":true}}]}]}""", null);
        Assert.Null(problem);
        var copy = serializer.Deserialize<FilterTerm>(serializer.SerializeToArray(term!));
        Assert.Equal(FilterParser.Canonical(term!), FilterParser.Canonical(copy));
        foreach (var tags in new[]
        {
            """{"published":"2024-05-01T10:00:00Z"}""", """{"published":"2024-05-01T10:00:01Z"}""",
            """{"price":2.5,"groups":["hr"],"draft":false,"lang":"de","year":2020}""", """{"price":2.5,"groups":["eng"],"lang":"de","year":2020}""",
        })
            Assert.Equal(term!.Matches(Stored(tags)), copy.Matches(Stored(tags)));
        Assert.True(copy.Matches(Stored("""{"published":"2024-05-01T10:00:00Z"}""")));
    }

    internal static Dictionary<string, string> Stored(string json) =>
        TagRules.FromJson(JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json), null).Stored!;
}
