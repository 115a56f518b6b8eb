using RagCluster.Grains.Answering;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Lexical;

namespace RagCluster.Grains.Querying;

// Asking: the question's search, then the sentences of its hits that answer it, scored by meaning and by words.
public sealed partial class QueryPlanGrain
{
    public const int MaxAnswerSentences = 10;

    public async Task<AskResponse> Ask(AskRequest request, CancellationToken cancellationToken = default)
    {
        if (request.MaxSentences is < 1 or > MaxAnswerSentences) throw new InvalidRequestException($"maxSentences must be 1..{MaxAnswerSentences}");
        var search = await Search(request.Search, cancellationToken);
        var (info, _) = await CollectionInfoAsync(this.GetPrimaryKeyString(), cancellationToken);
        var scored = await ranker.ScoreAsync(request.Search.Query, search.Hits, TermAnalyzers.For(info.Settings.Language), cancellationToken);
        var (answer, passages) = ExtractiveAnswerer.Answer(search.Hits, scored, request.MaxSentences);
        return new AskResponse(search, answer, passages);
    }
}
