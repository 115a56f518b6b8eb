using System.Runtime.CompilerServices;
using RagCluster.Grains.Answering;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Lexical;

namespace RagCluster.Grains.Querying;

// Asking: the question's search, then the sentences of its hits that answer it, scored by meaning and by words.
public sealed partial class QueryPlanGrain
{
    public const int MaxAnswerSentences = 10;

    // The answer drawn from a search's hits, by the hits' array: a search this silo's L1 cache serves again hands back
    // the same array, so a question asked again is answered without scoring its sentences again.
    private static readonly ConditionalWeakTable<SearchHit[], Drawn> Answers = new();
    private sealed record Drawn(string Question, int MaxSentences, Answer Answer, int[] Passages);

    public async Task<AskResponse> Ask(AskRequest request, CancellationToken cancellationToken = default)
    {
        if (request.MaxSentences is < 1 or > MaxAnswerSentences) throw new InvalidRequestException($"maxSentences must be 1..{MaxAnswerSentences}");
        if (request.Earlier is { Length: > QueryLimits.MaxQueryChars }) throw new InvalidRequestException($"the earlier question must be at most {QueryLimits.MaxQueryChars} characters");
        // A follow-up is searched as asked and with the question before it, the two rankings fused (FollowUps).
        var question = request.Earlier is null ? request.Search.Query : FollowUps.WithContext(request.Search.Query, request.Earlier);
        SearchResponse search;
        if (request.Earlier is null) search = await Search(request.Search, cancellationToken);
        else
        {
            var both = await Task.WhenAll(Search(request.Search, cancellationToken), Search(request.Search with { Query = question }, cancellationToken));
            search = both[0] with { Hits = FollowUps.Fuse(both[0].Hits, both[1].Hits, request.Search.TopK), Cached = false, CacheTier = null };
        }
        string[] searchedAs = request.Earlier is null ? [question] : [request.Search.Query, question];
        if (search.Hits.Length > 0 && Answers.TryGetValue(search.Hits, out var drawn) && drawn.Question == question && drawn.MaxSentences == request.MaxSentences)
            return new AskResponse(search, drawn.Answer, drawn.Passages) { SearchedAs = searchedAs };
        var (info, _) = await CollectionInfoAsync(this.GetPrimaryKeyString(), cancellationToken);
        var scored = await ranker.ScoreAsync(searchedAs, search.Hits, TermAnalyzers.For(info.Settings.Language), options.Value.AnswerByMeaning, cancellationToken);
        var (answer, passages) = ExtractiveAnswerer.Answer(search.Hits, scored, request.MaxSentences);
        if (search.Hits.Length > 0) Answers.AddOrUpdate(search.Hits, new Drawn(question, request.MaxSentences, answer, passages));
        return new AskResponse(search, answer, passages) { SearchedAs = searchedAs };
    }
}
