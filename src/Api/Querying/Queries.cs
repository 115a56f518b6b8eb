using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Collections;
using RagCluster.Api.Dashboard;
using RagCluster.Api.Documents;
using RagCluster.Api.Auth;
using RagCluster.Grains.Interfaces.Answering;
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
        using var span = StartQuerySpan("search", c);
        var response = await grains.GetGrain<IQueryPlanGrain>(c.Key).Search(request, ct);
        var traceId = Log(queries, c, "search", body.Query ?? $"({vector!.Length}-dimensional vector)", response, span);
        return TypedResults.Ok(new SearchReply(traceId, response.Plan, response.Cached, response.CacheTier, response.ElapsedMs, response.CandidatePlans,
            response.Hits.Select(Reply).ToArray(), response.Groups?.Select(g => new SearchGroupReply(g.DocumentId, g.Score, g.Hits.Select(Reply).ToArray())).ToArray(), response.Explain));
        static SearchHitReply Reply(SearchHit h) => new(h.DocumentId, h.ChunkId, h.Text, h.Score, h.Start, h.End, h.HeadingPath);
    }

    /// <summary>A question answered in one piece, with citations (the HTTP endpoint may stream it instead), kept in its conversation if it names one.</summary>
    public static async Task<Ok<AskReply>> AskAsync(CollectionRef c, AskBody body, ClaimsPrincipal user, IGrainFactory grains, QueryLog queries, CancellationToken ct)
    {
        using var span = StartQuerySpan("ask", c);
        var answered = await grains.GetGrain<IAskGrain>(c.Key).Answer(Question(c, body, user), ct);
        var traceId = Log(queries, c, "ask", body.Question!, answered.Search, span);
        var (answer, end) = (answered.Answer, answered.End);
        return TypedResults.Ok(new AskReply(answer.Text, Citations(answer.Citations), end.Plan, end.Mode, end.FallbackReason, traceId, end.ConversationId, end.SearchedAs));
    }

    /// <summary>A question's sources found (checked, its conversation opened), logged with the trace id, for a streamed answer.</summary>
    public static async Task<(QuestionSources Sources, string? TraceId)> FindSourcesAsync(CollectionRef c, AskBody body, ClaimsPrincipal user, IGrainFactory grains,
        QueryLog queries, CancellationToken ct)
    {
        using var span = StartQuerySpan("ask", c);
        var sources = await grains.GetGrain<IAskGrain>(c.Key).FindSources(Question(c, body, user), ct);
        return (sources, Log(queries, c, "ask", body.Question!, sources.Found.Search, span));
    }

    /// <summary>The asker: the key (or token subject) its conversations belong to, with the rights it reads with now.</summary>
    public static Asker AskerOf(CollectionRef c, ClaimsPrincipal user) => new(user.KeyId() ?? "", c.Access);

    private static Question Question(CollectionRef c, AskBody body, ClaimsPrincipal user) =>
        new(body.Question ?? "", body.TopK ?? 5, FilterText(body.Filter), AskerOf(c, user))
        {
            ConversationId = body.ConversationId,
            History = body.History?.Select(t => new EarlierTurn(t?.Question ?? "", t?.Answer ?? "")).ToArray(),
        };

    // The filter as the caller wrote it: the collection's query planner parses it against the collection's declared fields.
    private static string? FilterText(System.Text.Json.JsonElement? filter) =>
        filter is { ValueKind: not (System.Text.Json.JsonValueKind.Null or System.Text.Json.JsonValueKind.Undefined) } f ? f.GetRawText() : null;

    public static CitationReply[] Citations(Citation[] citations) =>
        citations.Select(c => new CitationReply(c.Number, c.DocumentId, c.ChunkId, c.Start, c.End, c.Score, c.Quote)).ToArray();

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
