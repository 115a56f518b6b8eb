using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Embedding;
using RagCluster.Grains.Interfaces.Errors;

namespace RagCluster.Grains.Embedding;

/// <summary>Texts embedded for a caller (<see cref="ITextEmbeddingGrain"/>), on the asking silo's tokenizer and <see cref="Embedder"/>.</summary>
[Reentrant, StatelessWorker(1)]
public sealed class TextEmbeddingGrain(Embedder embedder) : Grain, ITextEmbeddingGrain
{
    public async Task<EmbeddedTexts> Embed(TextsToEmbed texts, CancellationToken cancellationToken = default)
    {
        await embedder.ModelLoaded.WaitAsync(cancellationToken); // the first text to embed loads the model
        var service = embedder.Local;
        if (!service.IsConfigured) throw new EmbeddingUnavailableException(service.Status);
        var model = service.ModelName!;
        if (texts.Model is { Length: > 0 } asked && asked != model)
            throw Invalid($"model '{asked}' is not served here: this cluster embeds with '{model}' (or leave model out)");
        // Tokenised once, uncut: a text past the model's window is refused, not silently cut as a chunk would be.
        var sequences = new int[texts.Texts.Length][];
        for (var i = 0; i < sequences.Length; i++)
            if ((sequences[i] = service.UncutTokenIds(texts.Texts[i], EmbeddingKind.Passage)).Length > service.MaxTokens)
                throw Invalid($"input[{i}] is {sequences[i].Length} tokens; '{model}' reads at most {service.MaxTokens} (split the text)");
        var vectors = await embedder.EmbedAsync(sequences, EmbeddingKind.Passage, cancellationToken);
        if (texts.Dimensions is { } dims && vectors.Length > 0 && dims != vectors[0].Length)
            throw Invalid($"dimensions must be {vectors[0].Length}, the model's own (or left out)");
        return new EmbeddedTexts(vectors, model, sequences.Sum(s => s.Length));
    }

    public Task<EmbeddingAvailability> Availability() => Task.FromResult(new EmbeddingAvailability(embedder.Unavailable(), embedder.ModelName));

    private static InvalidRequestException Invalid(string detail) => new("Invalid embeddings request", detail);
}
