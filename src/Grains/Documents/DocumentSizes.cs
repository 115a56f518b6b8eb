using System.Text;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Extraction;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Documents;

/// <summary>
/// What a document will hold once indexed, measured where it is accepted so that a tenant's limit refuses it before
/// anything is stored: its vectors (chunks, cut as the collection cuts them) and its bytes (each chunk's text, and its
/// own vector's 4 bytes a dimension; the cluster's model vectors count as vectors, not bytes). A restore measures the
/// same from an archive's chunks. Cutting a text twice (here and where it indexes) costs a small part of embedding it.
/// </summary>
public sealed class DocumentSizes(Embedder embedder)
{
    /// <summary>Completes when the tokenizer that cuts a text collection's documents has loaded (the first text loads it).</summary>
    public Task TokenizerLoaded => embedder.ModelLoaded;

    public StoredUsage Measure(IngestRequest request, CollectionSettings settings, ExtractedText? extracted = null) => Measure(request, settings, extracted, out _);

    /// <summary><see cref="Measure(IngestRequest, CollectionSettings, ExtractedText?)"/>, handing out a text's chunks so its indexing need not cut them again.</summary>
    public StoredUsage Measure(IngestRequest request, CollectionSettings settings, ExtractedText? extracted, out DocumentChunks.Cutting? cut)
    {
        cut = null;
        try
        {
            if (request.Format == OwnVectorChunks.Format)
            {
                var chunks = OwnVectorChunks.Decode(request.Content).Chunks;
                return new StoredUsage(1, chunks.Count(c => c.Vector is not null), chunks.Sum(c => Chunk(c.Text, c.Vector)));
            }
            if (settings.Dimensions is not null) return new StoredUsage(1, 0, 0); // text sent to a collection of own vectors fails where it indexes
            var drafts = DocumentChunks.Drafts(extracted ?? DocumentExtractor.Extract(request.Format, request.Content), settings, embedder.Local);
            cut = new DocumentChunks.Cutting(drafts, settings.ChunkMaxTokens, settings.ChunkOverlapTokens);
            return new StoredUsage(1, drafts.Count, drafts.Sum(d => Chunk(d.Text, null)));
        }
        catch (Exception e) when (e is ExtractionException or InvalidRequestException)
        {
            return new StoredUsage(1, 0, 0); // it fails where it indexes, with the reason, and holds nothing but its status
        }
    }

    /// <summary>A chunk's bytes: its text (UTF-8) and its own vector (float32), if it brought one.</summary>
    public static long Chunk(string text, float[]? ownVector) => Encoding.UTF8.GetByteCount(text) + 4L * (ownVector?.Length ?? 0);
}
