using RagCluster.Runtime;
using RagCluster.Runtime.Serialization;

namespace RagCluster.Tests;

public sealed class SerializationTests
{
    public sealed record Node(string Label, List<Node>? Children);
    public sealed class Mutable { public int A { get; set; } public string? B { get; set; } public int Computed => A * 2; }
    public enum Color { Red = 1, Blue = -7 }
    public readonly record struct Point(float X, float Y);

    private static T RoundTrip<T>(T value) => BinarySerializer.Deserialize<T>(BinarySerializer.Serialize(value));

    [Fact]
    public void Primitives_and_edges_round_trip()
    {
        Assert.Equal(long.MinValue, RoundTrip(long.MinValue));
        Assert.Equal(ulong.MaxValue, RoundTrip(ulong.MaxValue));
        Assert.Equal(-1.5m, RoundTrip(-1.5m));
        Assert.Equal("", RoundTrip(""));
        Assert.Null(RoundTrip<string?>(null));
        Assert.Equal("\u00e9\ud83d\ude00" + new string('x', 300), RoundTrip("\u00e9\ud83d\ude00" + new string('x', 300)));
        Assert.Equal(Color.Blue, RoundTrip(Color.Blue));
        Assert.Equal((int?)null, RoundTrip<int?>(null));
        Assert.Equal(TimeSpan.FromTicks(-5), RoundTrip(TimeSpan.FromTicks(-5)));
        Assert.Equal(new Point(1, -2), RoundTrip(new Point(1, -2)));
        Assert.Equal(new[] { 1.5f, float.NegativeInfinity }, RoundTrip(new[] { 1.5f, float.NegativeInfinity }));
    }

    [Fact]
    public void Collections_classes_and_recursive_records_round_trip()
    {
        var tree = new Node("root", [new Node("a", null), new Node("b", [new Node("c", [])])]);
        var back = RoundTrip(tree);
        Assert.Equal("c", back.Children![1].Children![0].Label);
        Assert.Null(back.Children[0].Children);

        var m = RoundTrip(new Mutable { A = 21, B = null });
        Assert.Equal(42, m.Computed);
        Assert.Null(m.B);

        IReadOnlyDictionary<string, IReadOnlyList<int>> map = new Dictionary<string, IReadOnlyList<int>> { ["x"] = [1, 2], ["y"] = [] };
        Assert.Equal(new[] { 1, 2 }, RoundTrip(map)["x"]);
        Assert.Equal(new HashSet<string> { "p", "q" }, RoundTrip<ISet<string>>(new HashSet<string> { "p", "q" }));
        Assert.Equal((3, "t"), RoundTrip((3, "t")));
    }

    [Fact]
    public void Types_that_cannot_travel_are_named_in_the_error()
    {
        Assert.Contains("System.Object", Assert.Throws<NotSupportedException>(() => Codec.For(typeof(object))).Message);
        Assert.Contains("Stream", Assert.Throws<NotSupportedException>(() => Codec.For(typeof(Stream))).Message);
    }

    [Fact]
    public void Random_bytes_only_ever_fail_as_bad_messages()
    {
        var random = new Random(42);
        var valid = BinarySerializer.Serialize(new Node("root", [new Node("leaf", [])]));
        for (var i = 0; i < 5000; i++)
        {
            byte[] input;
            if (i % 2 == 0)
            {
                input = new byte[random.Next(0, 64)];
                random.NextBytes(input);
            }
            else
            {
                input = valid.ToArray();
                input[random.Next(input.Length)] = (byte)random.Next(256);
            }
            try
            {
                BinarySerializer.Deserialize<Node>(input);
                BinarySerializer.Deserialize<Dictionary<string, float[]>>(input);
            }
            catch (BadMessageException)
            {
                // the only acceptable failure
            }
        }
    }

    [Fact]
    public void A_forged_length_does_not_allocate_beyond_the_message()
    {
        var w = new WireWriter();
        w.WriteVarUInt(int.MaxValue); // "two billion floats follow"
        Assert.Throws<BadMessageException>(() => BinarySerializer.Deserialize<float[]>(w.ToArray()));
        Assert.Throws<BadMessageException>(() => BinarySerializer.Deserialize<List<string>>(w.ToArray()));
    }

    [Fact]
    public void Deep_nesting_is_refused_rather_than_overflowing_the_stack()
    {
        var w = new WireWriter();
        for (var i = 0; i < 10_000; i++)
        {
            w.WriteByte(1);              // Node present
            w.WriteVarUInt(2);           // Children: list of one
        }
        Assert.Throws<BadMessageException>(() => BinarySerializer.Deserialize<Node>(w.ToArray()));
    }
}
