using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Collections;
using RagCluster.Api.Dashboard;
using RagCluster.Api.Documents;
using RagCluster.Grains.Answering;
using RagCluster.Grains.Conversations;
using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Api.Querying;

/// <summary>
/// Search and ask as operations, checked and answered the same way whichever door they came in by: the HTTP endpoints
/// and the MCP tools both call these, so a refusal reads the same in both.
/// </summary>
public static class Queries
{
    public static async Task<Results<Ok<SearchReply>, ProblemHttpResult>> SearchAsync(CollectionRef c, SearchBody body, IGrainFactory grains, QueryLog queries, CancellationToken ct)
    {
        float[]? vector = null;
        if (body.Vector is not null || body.VectorBase64 is not null)
        {
            // Checked against the collection in its query planner; here only that it is one well-formed vector.
            (vector, var badVector) = DocumentParsing.DecodeVector(body.Vector, body.VectorBase64, "the query vector");
            if (badVector is not null) return RagEndpoints.Problem(badVector.Status, badVector.Title, badVector.Detail);
        }
        var request = new SearchRequest(body.Query ?? "", body.TopK ?? 10, FilterText(body.Filter), body.Plan)
        {
            Vector = vector, Ef = body.Ef, Consistency = body.Consistency, ReadAfter = body.ReadAfter,
            GroupBy = body.GroupBy, GroupSize = body.GroupSize, ScoreThreshold = body.ScoreThreshold, Offset = body.Offset,
            Fusion = body.Fusion, Alpha = body.Alpha, Access = c.Access, TextField = body.TextField, Explain = body.Explain ?? false,
        };
        if (request.Problem() is { } bad) return RagEndpoints.Problem(400, bad.Title, bad.Detail);
        using var span = StartQuerySpan("search", c);
        var response = await grains.GetGrain<IQueryPlanGrain>(c.Key).Search(request, ct);
        var traceId = Log(queries, c, "search", body.Query ?? $"({vector!.Length}-dimensional vector)", response, span);
        return TypedResults.Ok(new SearchReply(traceId, response.Plan, response.Cached, response.CacheTier, response.ElapsedMs, response.CandidatePlans,
            response.Hits.Select(Reply).ToArray(), response.Groups?.Select(g => new SearchGroupReply(g.DocumentId, g.Score, g.Hits.Select(Reply).ToArray())).ToArray(), response.Explain));
        static SearchHitReply Reply(SearchHit h) => new(h.DocumentId, h.ChunkId, h.Text, h.Score, h.Start, h.End, h.HeadingPath);
    }

    /// <summary>A question answered in one piece, with citations (the HTTP endpoint may stream it instead), kept in its conversation if it names one.</summary>
    public static async Task<Results<Ok<AskReply>, ProblemHttpResult>> AskAsync(CollectionRef c, AskBody body, ClaimsPrincipal user, IGrainFactory grains, ChatAnswerer llm,
        QueryLog queries, ConversationOptions conversations, CancellationToken ct)
    {
        if (ValidQuery(body.Question, body.TopK, "question") is { } badQuery) return badQuery;
        var (context, problem) = await AskConversations.OpenAsync(c, body, user, grains, conversations);
        if (problem is not null) return problem;
        var (asked, traceId) = await FindSourcesAsync(c, body, context!, llm, grains, queries, ct);
        var reply = await AnswerAsync(asked, traceId, llm, ct);
        await AskConversations.RememberAsync(grains, c, user, context!, body.Question!, asked.SearchedAs, reply.Answer);
        return TypedResults.Ok(reply with { ConversationId = context!.ConversationId, SearchedAs = AskConversations.Shown(body.Question!, asked.SearchedAs) });
    }

    /// <summary>Generated when an LLM is configured and reachable; otherwise (or while its breaker is open) extractive.</summary>
    public static async Task<AskReply> AnswerAsync(AskResponse asked, string? traceId, ChatAnswerer llm, CancellationToken ct)
    {
        var search = asked.Search;
        var question = asked.SearchedAs[^1];
        var asksModel = AnswerModes.AsksModel(llm, search.Hits.Length);
        var (generated, reason) = asksModel ? await llm.AnswerAsync(question, Passages(asked), ct) : (null, null);
        var answer = generated ?? asked.Extractive;
        return new AskReply(answer.Text, Citations(answer), search.Plan, AnswerModes.Of(asksModel, generated is not null), reason, traceId);
    }

    /// <summary>The passages a generated answer is given: those the extractive answer quotes, best first (all hits where it quotes none).</summary>
    public static SearchHit[] Passages(AskResponse asked) =>
        asked.Passages.Length == 0 ? asked.Search.Hits : asked.Passages.Select(i => asked.Search.Hits[i]).ToArray();

    /// <summary>A question's search and extractive answer (the question already checked; a follow-up made standalone first), logged with the trace id.</summary>
    public static async Task<(AskResponse Asked, string? TraceId)> FindSourcesAsync(CollectionRef c, AskBody body, AskContext context, ChatAnswerer llm,
        IGrainFactory grains, QueryLog queries, CancellationToken ct)
    {
        using var span = StartQuerySpan("ask", c);
        var (question, earlier) = await AskConversations.StandaloneAsync(body.Question!, context, llm, ct);
        var asked = await grains.GetGrain<IQueryPlanGrain>(c.Key).Ask(new AskRequest(
            new SearchRequest(question, body.TopK ?? 5, FilterText(body.Filter), null) { Access = c.Access }, ExtractiveAnswerer.DefaultSentences) { Earlier = earlier }, ct);
        return (asked, Log(queries, c, "ask", body.Question!, asked.Search, span));
    }

    // The filter as the caller wrote it: the collection's query planner parses it against the collection's declared fields.
    private static string? FilterText(System.Text.Json.JsonElement? filter) =>
        filter is { ValueKind: not (System.Text.Json.JsonValueKind.Null or System.Text.Json.JsonValueKind.Undefined) } f ? f.GetRawText() : null;

    /// <summary>A question or query text and topK checked by the search's own rules (<see cref="SearchRequest.Problem"/>).</summary>
    public static ProblemHttpResult? ValidQuery(string? query, int? topK, string name = "query") =>
        new SearchRequest(query ?? "", topK ?? 1, null, null).Problem(name) is { } bad ? RagEndpoints.Problem(400, bad.Title, bad.Detail) : null;

    public static CitationReply[] Citations(Answer answer) =>
        answer.Citations.Select(c => new CitationReply(c.Number, c.DocumentId, c.ChunkId, c.Start, c.End, c.Score, c.Quote)).ToArray();

    /// <summary>The root of a query's trace: its grain calls on every silo join it, and the dashboard finds them by its id.</summary>
    private static System.Diagnostics.Activity? StartQuerySpan(string kind, CollectionRef c)
    {
        var span = RagCluster.Hosting.Diagnostics.RagTracing.QuerySource.StartActivity($"{kind} {c.Name}");
        span?.SetTag("ragcluster.collection", c.Key);
        return span;
    }

    private static string? Log(QueryLog queries, CollectionRef c, string kind, string text, SearchResponse r, System.Diagnostics.Activity? span)
    {
        var traceId = (span ?? System.Diagnostics.Activity.Current)?.TraceId.ToHexString();
        queries.Add(new RecentQuery(DateTimeOffset.UtcNow, c.Tenant, c.Name, kind, text, r.Plan, r.Cached, r.CacheTier, r.ElapsedMs, r.Hits.Length, traceId));
        return traceId;
    }
}
