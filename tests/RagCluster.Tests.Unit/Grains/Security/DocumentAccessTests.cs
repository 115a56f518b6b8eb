using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Security;
using RagCluster.Metadata;

namespace RagCluster.Tests.Rag;

/// <summary>
/// The access trim as a shard runs it: a caller's filter joined with the trim, written as the planner writes it and read
/// back as the shard reads it, selects through the tag index exactly the chunks the filter matches and the caller sees;
/// and a joined filter at the language's limits still parses, since a shard must refuse what it cannot read.
/// </summary>
[Trait("Category", "Unit")]
public sealed class DocumentAccessTests
{
    private static readonly string[] Groups = ["hr", "legal", "ops", "eng", "x", "nobody"];

    [Fact]
    public void The_trimmed_filter_selects_what_the_filter_matches_among_what_the_caller_sees()
    {
        var rng = new Random(72);
        var chunks = new ShardChunks();
        var slots = Enumerable.Range(0, 800)
            .Select(i => chunks.Add($"d{i}", new ChunkRecord($"d{i}#0", $"d{i}", 0, 0, 0, "", [], ShardTagIndexTests.RandomTags(rng), null))).ToList();
        var compared = 0;
        for (var f = 0; f < 400; f++)
        {
            var json = f % 5 == 0 ? null : ShardTagIndexTests.RandomFilter(rng, 0);
            var (filter, problem) = FilterParser.Parse(json);
            Assert.Null(problem);
            var access = DocumentAccess.For("a", ReadAccess.Of(Groups.Where(_ => rng.NextDouble() < 0.3)));
            if (access.Nothing) continue;
            var trimmed = access.Trim(filter)!;
            var expected = slots.Where(s => (filter?.Matches(chunks.Tags(s)) ?? true) && access.Sees(chunks.Tags(s))).Order().ToList();
            var actual = chunks.Matching(FilterParser.ParseCanonical(FilterParser.Canonical(trimmed))!).Slots().ToList();
            Assert.True(expected.SequenceEqual(actual), $"{json} for {trimmed}: expected {expected.Count} slots, the index gave {actual.Count}");
            Assert.All(actual, s => Assert.True(chunks.Tags(s).ContainsKey("a"))); // no field: visible to no reader
            compared++;
        }
        Assert.True(compared > 250, $"only {compared} filters compared");
    }

    [Fact]
    public void Who_sees_what()
    {
        Assert.True(DocumentAccess.For(null, ReadAccess.None).Open); // no access field: every reader sees every document
        Assert.True(DocumentAccess.For("acl", ReadAccess.All).Open);
        Assert.True(DocumentAccess.For("acl", ReadAccess.None).Nothing);
        Assert.True(DocumentAccess.For("acl", null).Nothing);
        var hr = DocumentAccess.For("acl", ReadAccess.Of(["hr"]));
        Assert.True(hr.Sees(FilterLanguageTests.Stored("""{"acl":["eng","hr"]}""")));
        Assert.False(hr.Sees(FilterLanguageTests.Stored("""{"acl":["eng"]}""")));
        Assert.False(hr.Sees(FilterLanguageTests.Stored("""{"acl":[]}""")));
        Assert.False(hr.Sees(FilterLanguageTests.Stored("""{"other":"hr"}""")));
        Assert.False(hr.Sees(null));
        Assert.Equal(["a", "b"], ReadAccess.Of(["b", "a", "b"]).Groups);
        Assert.NotNull(ReadAccess.GroupsProblem([""]));
        Assert.NotNull(ReadAccess.GroupsProblem([new string('g', 129)]));
        Assert.NotNull(ReadAccess.GroupsProblem(Enumerable.Range(0, 101).Select(i => (string?)$"g{i}").ToList()));
        Assert.Null(ReadAccess.GroupsProblem([new string('g', 128)]));
    }

    [Fact]
    public void A_filter_at_the_limits_still_parses_once_trimmed_and_a_shard_refuses_what_does_not()
    {
        // As deep as a caller may nest, and as many conditions as a caller may write.
        var deep = "{\"a\":\"x\"}";
        for (var i = 1; i < FilterParser.MaxDepth; i++) deep = $"{{\"$not\":{deep}}}";
        var wide = "{" + string.Join(",", Enumerable.Range(0, FilterParser.MaxConditions).Select(i => $"\"k{i}\":\"v\"")) + "}";
        var access = DocumentAccess.For("acl", ReadAccess.Of(["hr"]));
        foreach (var json in new[] { deep, wide })
        {
            var (filter, problem) = FilterParser.Parse(json);
            Assert.Null(problem);
            var trimmed = FilterParser.ParseCanonical(FilterParser.Canonical(access.Trim(filter)!));
            Assert.Equal(FilterParser.Canonical(access.Trim(filter)!), FilterParser.Canonical(trimmed!));
        }
        // Past the caller's limits and the trim's one more: refused, never read as no filter.
        Assert.Throws<ArgumentException>(() => FilterParser.ParseCanonical($"{{\"$not\":{{\"$not\":{deep}}}}}"));
        Assert.Throws<ArgumentException>(() => FilterParser.ParseCanonical(wide[..^1] + ",\"y1\":\"v\",\"y2\":\"v\"}"));
    }
}
