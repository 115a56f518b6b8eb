using RagCluster.Grains.Interfaces.Indexing;

namespace RagCluster.Grains.Interfaces.Collections;

/// <summary>A collection as a caller may read it: <see cref="SeesAll"/> false hides the counts, which include documents it cannot see.</summary>
[GenerateSerializer, Immutable, Alias("rc.CollectionView")]
public sealed record CollectionView(CollectionInfo Info, bool SeesAll)
{
    public int? DocumentCount => SeesAll ? Info.DocumentCount : null;
    public int? UnsettledCount => SeesAll ? Info.UnsettledCount : null;
}

/// <summary>A document as the index holds it: its version, its tags (stored form) and its chunks in order.</summary>
[GenerateSerializer, Immutable, Alias("rc.HeldDocument")]
public sealed record HeldDocument(string Id, long Version, Dictionary<string, string> Tags, ChunkRecord[] Chunks);
