using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.Collections;
using RagCluster.Api.Dashboard;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Querying;

namespace RagCluster.Api.Querying;

/// <summary>/v1/collections/{collection}/search and /ask: the query planner's hits, and answers with citations (streamed too).</summary>
public static class QueryEndpoints
{
    public static void MapQueryEndpoints(this RouteGroupBuilder collection)
    {
        collection.MapPost("/search", [EndpointName("Search"), EndpointSummary("Search a collection (vector, BM25 or hybrid)"), Tags("Search and ask")] async Task<Results<Ok<SearchReply>, ProblemHttpResult>> (CollectionRef c, HttpContext http, IGrainFactory grains, QueryLog queries) =>
        {
            var (body, error) = await RagEndpoints.ReadJson<SearchBody>(http.Request);
            return error ?? await Queries.SearchAsync(c, body!, grains, queries, http.RequestAborted);
        }).RequireAuthorization(AuthSetup.Reader).Reads<SearchBody>("application/json").ProducesProblem(400);

        collection.MapPost("/ask", [EndpointName("Ask"), EndpointSummary("Answer a question from a collection, with citations (optionally streamed)"), Tags("Search and ask")] async Task<Results<Ok<AskReply>, EmptyHttpResult, ProblemHttpResult>> (CollectionRef c, HttpContext http, IGrainFactory grains, ChatAnswerer llm, QueryLog queries) =>
        {
            var (body, error) = await RagEndpoints.ReadJson<AskBody>(http.Request);
            if (error is not null) return error;
            if (Queries.ValidQuery(body!.Question, body.TopK, "question") is { } badQuery) return badQuery;
            var (search, traceId) = await Queries.FindSourcesAsync(c, body, grains, queries, http.RequestAborted);
            if (body.Stream != true) return TypedResults.Ok(await Queries.AnswerAsync(body.Question!, search, traceId, llm, http.RequestAborted));
            return await StreamAnswer(http, llm, body.Question!, search, traceId);
        }).RequireAuthorization(AuthSetup.Reader).Reads<AskBody>("application/json").ProducesProblem(400)
          .WithDescription("With \"stream\": true the answer comes as server-sent events (text/event-stream): \"token\" (a JSON string) as it is produced, then \"citations\" (an array of citations), then \"done\" (plan, mode, fallbackReason, traceId).");
    }

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
        await Send("citations", Queries.Citations(answer));
        await Send("done", new AskDone(search.Plan, mode, failure.Reason, traceId));
        return TypedResults.Empty;
    }
}
