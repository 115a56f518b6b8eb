using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using RagCluster.Grains.Indexing;
using RagCluster.Grains.Interfaces.Indexing;

namespace RagCluster.Tests.Rag;

/// <summary>The shard log's own entry layout: every field comes back, and entries in Orleans' encoding still read.</summary>
[Trait("Category", "Unit")]
public sealed class ShardLogCodecTests
{
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(ShardLogEntry).Assembly))
        .BuildServiceProvider().GetRequiredService<Serializer>();

    private static ShardLogEntry Sample() => new("doc/ü", 7,
    [
        new ChunkRecord("doc/ü#0", "doc/ü", 0, 0, 12, "Grüner Tee 🍵", ["Tea", "Green"], new() { ["lang"] = "de", ["n"] = "3" }, [0.25f, -1.5f, float.Epsilon, 3e38f]),
        new ChunkRecord("doc/ü#1", "doc/ü", 1, 12, 20, "", [], [], null),
    ], Removed: false) { Merge = true, Retag = new() { ["team"] = "ops" } };

    [Fact]
    public void Every_field_comes_back_in_both_formats()
    {
        foreach (var own in new[] { true, false })
        {
            var bytes = ShardLogCodec.Encode(Sample(), Serializer, own);
            Assert.Equal(own, bytes.AsSpan().StartsWith("RCL1"u8));
            AssertSame(Sample(), ShardLogCodec.Decode(bytes, Serializer));
        }
        var removed = new ShardLogEntry("gone", 9, [], Removed: true);
        AssertSame(removed, ShardLogCodec.Decode(ShardLogCodec.Encode(removed, Serializer, own: true), Serializer));
        // Nulls where the types say none (a restored archive's chunk may carry them) stay null, as Orleans' encoding keeps them.
        var nulls = new ShardLogEntry("n", 1, [new ChunkRecord("n#0", "n", 0, 0, 0, null!, null!, null!, null)], false);
        AssertSame(nulls, ShardLogCodec.Decode(ShardLogCodec.Encode(nulls, Serializer, own: true), Serializer));
    }

    [Fact]
    public void Orleans_encoding_never_starts_like_ours_and_a_vector_is_its_bytes()
    {
        // What builds before the codec wrote, and what Shards:LogFormat orleans writes: read as Orleans wrote it.
        var orleans = Serializer.SerializeToArray(Sample());
        Assert.NotEqual((byte)'R', orleans[0]);
        // 384 floats take their 1,536 bytes and a little framing, not a field header each.
        var vector = Enumerable.Range(0, 384).Select(i => i / 384f).ToArray();
        var entry = new ShardLogEntry("v", 1, [new ChunkRecord("v#0", "v", 0, 0, 0, "", [], [], vector)], false);
        var own = ShardLogCodec.Encode(entry, Serializer, own: true);
        Assert.InRange(own.Length, 384 * 4, 384 * 4 + 64);
        Assert.Equal(vector, ShardLogCodec.Decode(own, Serializer).Chunks[0].Vector);
    }

    private static void AssertSame(ShardLogEntry expected, ShardLogEntry actual)
    {
        Assert.Equal((expected.DocumentId, expected.Version, expected.Removed, expected.Merge), (actual.DocumentId, actual.Version, actual.Removed, actual.Merge));
        Assert.Equal(expected.Retag, actual.Retag);
        Assert.Equal(expected.Chunks.Length, actual.Chunks.Length);
        for (var i = 0; i < expected.Chunks.Length; i++)
        {
            var (e, a) = (expected.Chunks[i], actual.Chunks[i]);
            Assert.Equal((e.ChunkId, e.DocumentId, e.Ordinal, e.Start, e.End, e.Text), (a.ChunkId, a.DocumentId, a.Ordinal, a.Start, a.End, a.Text));
            Assert.Equal(e.HeadingPath, a.HeadingPath);
            Assert.Equal(e.Tags, a.Tags);
            Assert.Equal(e.Vector, a.Vector);
        }
    }
}
