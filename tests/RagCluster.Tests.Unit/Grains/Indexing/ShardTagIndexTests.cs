using System.Globalization;
using System.Text;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Metadata;

namespace RagCluster.Tests.Rag;

/// <summary>
/// The shard's tag index against the filter's own definition (<see cref="FilterTerm.Matches"/>, a brute-force read of
/// every chunk): random documents with every tag type, random filters with every operator, through adds, removals and
/// tag updates that make the ordered keys fold their tails and dead pairs. A fixed seed, so a failure repeats.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ShardTagIndexTests
{
    private static readonly string[] Words = ["hr", "legal", "ops", "eng", "x"];
    private static readonly DateTime Epoch = new(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Index_agrees_with_the_brute_force_definition_on_random_documents_and_filters()
    {
        var rng = new Random(58);
        var chunks = new ShardChunks();
        var slots = new List<int>();
        var compared = 0;
        for (var round = 0; round < 12; round++)
        {
            // Grow by 300-600 chunks, drop some, retag some: the index's tails and dead pairs fold along the way.
            for (var i = rng.Next(300, 600); i > 0; i--)
                slots.Add(chunks.Add($"d{slots.Count}", new ChunkRecord($"d{slots.Count}#0", $"d{slots.Count}", 0, 0, 0, "", [], RandomTags(rng), null)));
            foreach (var slot in slots.Where(_ => rng.NextDouble() < 0.1).ToList())
            {
                chunks.Remove(slot);
                slots.Remove(slot);
            }
            foreach (var slot in slots.Where(_ => rng.NextDouble() < 0.1)) chunks.SetTags(slot, RandomTags(rng));
            for (var f = 0; f < 250; f++)
            {
                var json = RandomFilter(rng, 0);
                var (filter, problem) = FilterParser.Parse(json);
                Assert.True(problem is null, $"{json}: {problem}");
                if (filter is null) continue;
                var expected = slots.Where(s => filter.Matches(chunks.Tags(s))).Order().ToList();
                var actual = chunks.Matching(filter).Slots().ToList();
                Assert.True(expected.SequenceEqual(actual), $"round {round}, {json}: expected {expected.Count} slots, the index gave {actual.Count}");
                compared++;
            }
        }
        Assert.Equal(3000, compared);
    }

    internal static Dictionary<string, string> RandomTags(Random rng)
    {
        var json = new StringBuilder("{");
        void Add(string key, string value) => json.Append(json.Length > 1 ? "," : "").Append('"').Append(key).Append("\":").Append(value);
        if (rng.NextDouble() < 0.8) Add("n", rng.NextDouble() < 0.7 ? rng.Next(0, 20).ToString(CultureInfo.InvariantCulture) : (rng.Next(0, 200) / 10.0).ToString("R", CultureInfo.InvariantCulture));
        if (rng.NextDouble() < 0.8) Add("t", $"\"{Instant(rng)}\"");
        if (rng.NextDouble() < 0.8) Add("s", $"\"{Words[rng.Next(Words.Length)]}\"");
        if (rng.NextDouble() < 0.7) Add("a", "[" + string.Join(',', Enumerable.Range(0, rng.Next(0, 4)).Select(_ => $"\"{Words[rng.Next(Words.Length)]}\"")) + "]");
        if (rng.NextDouble() < 0.6) Add("b", rng.NextDouble() < 0.5 ? "true" : "false");
        if (rng.NextDouble() < 0.2) Add("legacy", "\"2020-01-05T00:00:00Z\""); // a datetime, as a string tag stored before would match it too
        return FilterLanguageTests.Stored(json.Append('}').ToString());
    }

    private static string Instant(Random rng) =>
        Epoch.AddHours(rng.Next(0, 24 * 30)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    internal static string RandomFilter(Random rng, int depth)
    {
        if (depth < 3 && rng.NextDouble() < 0.35)
        {
            var op = rng.Next(3);
            if (op == 2) return $"{{\"$not\":{RandomFilter(rng, depth + 1)}}}";
            var parts = Enumerable.Range(0, rng.Next(1, 4)).Select(_ => RandomFilter(rng, depth + 1));
            return $"{{\"{(op == 0 ? "$and" : "$or")}\":[{string.Join(',', parts)}]}}";
        }
        var field = new[] { "n", "t", "s", "a", "b", "legacy", "missing" }[rng.Next(7)];
        string Number() => rng.NextDouble() < 0.7 ? rng.Next(-1, 21).ToString(CultureInfo.InvariantCulture) : (rng.Next(0, 200) / 10.0).ToString("R", CultureInfo.InvariantCulture);
        string Scalar() => field switch
        {
            "n" => Number(),
            "t" or "legacy" => $"\"{Instant(rng)}\"",
            "b" => rng.NextDouble() < 0.5 ? "true" : "false",
            _ => $"\"{Words[rng.Next(Words.Length)]}\"",
        };
        string Bound() => field is "t" or "legacy" or "s" or "a" or "b" ? $"\"{Instant(rng)}\"" : Number();
        var condition = rng.Next(9) switch
        {
            0 => Scalar(),
            1 => $"{{\"$ne\":{Scalar()}}}",
            2 => $"{{\"$in\":[{Scalar()},{Scalar()}]}}",
            3 => $"{{\"$nin\":[{Scalar()}]}}",
            4 => $"{{\"$gte\":{Bound()}}}",
            5 => $"{{\"$gt\":{Bound()},\"$lte\":{Bound()}}}",
            6 => $"{{\"$lt\":{Bound()}}}",
            7 => $"{{\"$exists\":{(rng.NextDouble() < 0.5 ? "true" : "false")}}}",
            _ => $"{{\"{(rng.NextDouble() < 0.5 ? "$containsAny" : "$containsAll")}\":[\"{Words[rng.Next(Words.Length)]}\",\"{Words[rng.Next(Words.Length)]}\"]}}",
        };
        // The whole array, equal or not, in a vocabulary small enough that some arrays match (an empty one too).
        if (field == "a" && rng.NextDouble() < 0.3)
            condition = $"{{\"{(rng.NextDouble() < 0.5 ? "$eq" : "$ne")}\":[{string.Join(',', Enumerable.Range(0, rng.Next(0, 3)).Select(_ => $"\"{Words[rng.Next(2)]}\""))}]}}";
        return $"{{\"{field}\":{condition}}}";
    }

    [Fact]
    public void Ordered_keys_stay_exact_through_folds()
    {
        var keys = new SortedKeys<long>();
        var rng = new Random(7);
        var held = new Dictionary<int, long>();
        for (var step = 0; step < 20_000; step++)
        {
            var slot = rng.Next(2000);
            if (held.Remove(slot, out var old)) keys.Remove(old, slot);
            if (rng.NextDouble() < 0.8) keys.Add(held[slot] = rng.Next(100), slot);
            if (step % 997 != 0) continue;
            var set = new SlotSet(2000);
            keys.Range(20, true, 40, false, set);
            Assert.Equal(held.Where(h => h.Value is >= 20 and < 40).Select(h => h.Key).Order(), set.Slots());
            Assert.Equal(held.Count, keys.Count);
        }
    }
}
