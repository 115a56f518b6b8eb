using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Metadata;

namespace RagCluster.Api.Documents;

/// <summary>Documents read back as the index holds them (trimmed by <see cref="ICollectionReadsGrain.Contents"/>), shaped for JSON.</summary>
public static class DocumentContents
{
    public static DocumentContent Reply(HeldDocument d) => new(d.Id, d.Version, TagRules.ToJson(d.Tags),
        d.Chunks.Select(ch => new ChunkContent(ch.ChunkId, ch.Ordinal, ch.Text, ch.Start, ch.End, ch.HeadingPath, ch.Vector)).ToArray());
}
