using RagCluster.Grains.Chunking;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Extraction;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Text;

namespace RagCluster.Grains.Documents;

/// <summary>
/// A text document cut into chunks as the collection's settings say, with each chunk's model input: the one way both
/// ingest paths (a document's own grain, a batch's bulk pass) chunk, so a document indexes the same whichever took it.
/// </summary>
public static class DocumentChunks
{
    /// <summary>The chunks of <paramref name="text"/> (extracted already) and, with a model, each one's model input.</summary>
    /// <param name="text">The document's text.</param>
    /// <param name="settings">The collection's chunking.</param>
    /// <param name="model">The model whose word pieces measure the chunks (and are its input).</param>
    /// <param name="cut">Its chunks already cut (when measured for its tenant's share) with <paramref name="settings"/>' chunking, or null.</param>
    public static (List<ChunkDraft> Drafts, int[][]? Sequences) Cut(ExtractedText text, CollectionSettings settings, EmbeddingService model, Cutting? cut = null)
    {
        var drafts = cut is { } c && c.MaxTokens == settings.ChunkMaxTokens && c.OverlapTokens == settings.ChunkOverlapTokens ? c.Drafts : Drafts(text, settings, model);
        // The chunker's word pieces are the model input: no text is tokenised twice.
        var sequences = model.IsConfigured && drafts.Count > 0
            ? drafts.Select(d => (d.TokenIds is { } ids ? model.PassageSequence(ids) : null) ?? model.TokenIds(d.Text, EmbeddingKind.Passage)).ToArray()
            : null;
        return (drafts, sequences);
    }

    /// <summary>Chunks cut once, with the chunking they were cut with (a later cut with other settings does not take them).</summary>
    public sealed record Cutting(List<ChunkDraft> Drafts, int MaxTokens, int OverlapTokens);

    /// <summary>The chunks alone, without the model input.</summary>
    public static List<ChunkDraft> Drafts(ExtractedText text, CollectionSettings settings, EmbeddingService model)
    {
        var counter = model.IsConfigured ? (ITokenCounter)new WordPieceTokenCounter(model.Tokenizer!) : ApproximateTokenCounter.Instance;
        var chunking = new ChunkingOptions { MaxTokens = settings.ChunkMaxTokens, OverlapTokens = settings.ChunkOverlapTokens };
        return new Chunker(chunking, counter).Chunk(text);
    }

    /// <summary>The chunk records of a document from its drafts and their vectors (null without a model).</summary>
    public static List<ChunkRecord> Records(string documentId, List<ChunkDraft> drafts, Dictionary<string, string> tags, float[][]? vectors) =>
        drafts.Select((d, i) => new ChunkRecord(ChunkIds.Of(documentId, d.Ordinal), documentId, d.Ordinal, d.Start, d.End, d.Text,
            d.HeadingPath.ToArray(), tags, vectors?[i])).ToList();
}
