using RagCluster.Api.OpenApi;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.Collections;
using RagCluster.Api.Dashboard;
using RagCluster.Api.Documents;
using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.Querying;
using Orleans;

namespace RagCluster.Api.Querying;

/// <summary>/v1/collections/{collection}/search and /ask: the query planner's hits, and answers with citations (streamed too).</summary>
public static class QueryEndpoints
{
    public static void MapQueryEndpoints(this RouteGroupBuilder collection)
    {
        collection.MapPost("/search", [EndpointName("Search"), EndpointSummary("Search a collection (vector, BM25 or hybrid)"), Tags("Search and ask")] async Task<Results<Ok<SearchReply>, ProblemHttpResult>> (CollectionRef c, HttpContext http, IGrainFactory grains, QueryLog queries) =>
        {
            var (body, error) = await RagEndpoints.ReadJson<SearchBody>(http.Request);
            if (error is not null) return error;
            float[]? vector = null;
            if (body!.Vector is not null || body.VectorBase64 is not null)
            {
                // Checked against the collection in its query planner; here only that it is one well-formed vector.
                (vector, var badVector) = DocumentParsing.DecodeVector(body.Vector, body.VectorBase64, "the query vector");
                if (badVector is not null) return RagEndpoints.Problem(badVector.Status, badVector.Title, badVector.Detail);
                if (body.Query is not null && ValidQuery(body.Query, body.TopK) is { } badText) return badText;
                if (body.TopK is < 1 or > 100) return RagEndpoints.Problem(400, "Invalid topK", "topK must be 1..100");
            }
            else if (ValidQuery(body.Query, body.TopK) is { } badQuery) return badQuery;
            if (body.Ef is < 1 or > 4096) return RagEndpoints.Problem(400, "Invalid ef", "ef (the HNSW search breadth) must be 1..4096");
            using var span = StartQuerySpan("search", c);
            var response = await grains.GetGrain<IQueryPlanGrain>(c.Key).Search(new SearchRequest(body.Query ?? "", body.TopK ?? 10, body.Filter ?? [], body.Plan) { Vector = vector, Ef = body.Ef, Consistency = body.Consistency, ReadAfter = body.ReadAfter },
                http.RequestAborted);
            var traceId = Log(queries, http, c, "search", body.Query ?? $"({vector!.Length}-dimensional vector)", response, span);
            return TypedResults.Ok(new SearchReply(traceId, response.Plan, response.Cached, response.CacheTier, response.ElapsedMs, response.CandidatePlans,
                response.Hits.Select(h => new SearchHitReply(h.DocumentId, h.ChunkId, h.Text, h.Score, h.Start, h.End, h.HeadingPath)).ToArray()));
        }).RequireAuthorization(AuthSetup.Reader).Reads<SearchBody>("application/json").ProducesProblem(400);

        collection.MapPost("/ask", [EndpointName("Ask"), EndpointSummary("Answer a question from a collection, with citations (optionally streamed)"), Tags("Search and ask")] async Task<Results<Ok<AskReply>, EmptyHttpResult, ProblemHttpResult>> (CollectionRef c, HttpContext http, IGrainFactory grains, ChatAnswerer llm, QueryLog queries) =>
        {
            var (body, error) = await RagEndpoints.ReadJson<AskBody>(http.Request);
            if (error is not null) return error;
            if (ValidQuery(body!.Question, body.TopK, "question") is { } badQuery) return badQuery;
            using var span = StartQuerySpan("ask", c);
            var ct = http.RequestAborted;
            var search = await grains.GetGrain<IQueryPlanGrain>(c.Key).Search(new SearchRequest(body.Question!, body.TopK ?? 5, body.Filter ?? [], null), ct);
            var traceId = Log(queries, http, c, "ask", body.Question!, search, span);
            if (body.Stream == true) return await StreamAnswer(http, llm, body.Question!, search, traceId);

            // Generated when an LLM is configured and reachable; otherwise (or when its breaker is open) extractive.
            var (generated, reason) = llm.IsConfigured && search.Hits.Length > 0 ? await llm.AnswerAsync(body.Question!, search.Hits, ct) : (null, null);
            var answer = generated ?? ExtractiveAnswerer.Answer(body.Question!, search.Hits);
            var mode = generated is not null ? "generated" : llm.IsConfigured && search.Hits.Length > 0 ? "extractive-fallback" : "extractive";
            return TypedResults.Ok(new AskReply(answer.Text, Citations(answer), search.Plan, mode, reason, traceId));
        }).RequireAuthorization(AuthSetup.Reader).Reads<AskBody>("application/json").ProducesProblem(400)
          .WithDescription("With \"stream\": true the answer comes as server-sent events (text/event-stream): \"token\" (a JSON string) as it is produced, then \"citations\" (an array of citations), then \"done\" (plan, mode, fallbackReason, traceId).");
    }

    private static ProblemHttpResult? ValidQuery(string? query, int? topK, string name = "query")
    {
        if (string.IsNullOrWhiteSpace(query) || query.Length > 2000) return RagEndpoints.Problem(400, $"Invalid {name}", $"{name} must be 1..2000 characters");
        if (topK is < 1 or > 100) return RagEndpoints.Problem(400, "Invalid topK", "topK must be 1..100");
        return null;
    }

    /// <summary>The root of a query's trace: its grain calls on every silo join it, and the dashboard finds them by its id.</summary>
    private static System.Diagnostics.Activity? StartQuerySpan(string kind, CollectionRef c)
    {
        var span = RagCluster.Hosting.Diagnostics.RagTracing.QuerySource.StartActivity($"{kind} {c.Name}");
        span?.SetTag("ragcluster.collection", c.Key);
        return span;
    }

    private static string? Log(QueryLog queries, HttpContext http, CollectionRef c, string kind, string text, SearchResponse r, System.Diagnostics.Activity? span)
    {
        var traceId = (span ?? System.Diagnostics.Activity.Current)?.TraceId.ToHexString();
        queries.Add(new RecentQuery(DateTimeOffset.UtcNow, c.Tenant, c.Name, kind, text, r.Plan, r.Cached, r.CacheTier, r.ElapsedMs, r.Hits.Length, traceId));
        return traceId;
    }

    private static CitationReply[] Citations(Answer answer) =>
        answer.Citations.Select(c => new CitationReply(c.Number, c.DocumentId, c.ChunkId, c.Start, c.End, c.Score, c.Quote)).ToArray();

    // Server-sent events: "token" events with the answer as it is produced, then "citations", then "done".
    private static async Task<EmptyHttpResult> StreamAnswer(HttpContext http, ChatAnswerer llm, string question, SearchResponse search, string? traceId)
    {
        var ct = http.RequestAborted;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        var json = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        async Task Send<T>(string evt, T value)
        {
            await http.Response.WriteAsync($"event: {evt}\ndata: {JsonSerializer.Serialize(value, json)}\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }
        var mode = "extractive";
        Answer answer;
        var failure = new ChatAnswerer.StreamFailure();
        var text = new System.Text.StringBuilder();
        if (llm.IsConfigured && search.Hits.Length > 0)
        {
            await foreach (var piece in llm.StreamAsync(question, search.Hits, failure, ct))
            {
                text.Append(piece);
                await Send("token", piece);
            }
        }
        if (text.Length > 0)
        {
            mode = "generated";
            answer = ChatAnswerer.WithCitations(text.ToString(), search.Hits);
        }
        else
        {
            if (llm.IsConfigured && search.Hits.Length > 0) mode = "extractive-fallback";
            answer = ExtractiveAnswerer.Answer(question, search.Hits);
            foreach (var word in Regex.Split(answer.Text, @"(?<=\s)")) await Send("token", word);
        }
        await Send("citations", Citations(answer));
        await Send("done", new AskDone(search.Plan, mode, failure.Reason, traceId));
        return TypedResults.Empty;
    }
}
