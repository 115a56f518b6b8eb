using System.Net.ServerSentEvents;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.Collections;
using RagCluster.Api.Dashboard;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Answering;

namespace RagCluster.Api.Querying;

/// <summary>/v1/collections/{collection}/search and /ask: the query planner's hits, and answers with citations (streamed too).</summary>
public static class QueryEndpoints
{
    public static void MapQueryEndpoints(this RouteGroupBuilder collection)
    {
        collection.MapPost("/search", Search).RequireAuthorization(AuthSetup.Reader).Reads<SearchBody>("application/json").ProducesProblem(400);
        collection.MapPost("/ask", Ask).RequireAuthorization(AuthSetup.Reader).Reads<AskBody>("application/json").ProducesProblem(400)
            .Produces<AskReply>(StatusCodes.Status200OK, "application/json")
            .WithDescription("With \"stream\": true the answer comes as server-sent events (text/event-stream): \"token\" (a JSON string) as it is produced, then \"citations\" (an array of citations), then \"done\" (plan, mode, fallbackReason, traceId, conversationId, searchedAs).");
        collection.MapGet("/conversations/{id}", GetConversation).RequireAuthorization(AuthSetup.Reader).ProducesProblem(404);
        collection.MapDelete("/conversations/{id}", DeleteConversation).RequireAuthorization(AuthSetup.Reader).ProducesProblem(404);
    }

    [EndpointName("GetConversation"), EndpointSummary("Read a conversation your key started: its turns and when it expires"), Tags("Search and ask")]
    private static async Task<Ok<ConversationReply>> GetConversation(CollectionRef c, string id, HttpContext http, IGrainFactory grains)
    {
        var kept = await grains.GetGrain<IAskGrain>(c.Key).Conversation(Queries.AskerOf(c, http.User), id);
        return TypedResults.Ok(new ConversationReply(kept.Id, kept.ExpiresAt, kept.Turns.Select(t => new ConversationTurnReply(t.Question, t.Standalone, t.Answer, t.At)).ToArray()));
    }

    [EndpointName("DeleteConversation"), EndpointSummary("Forget a conversation your key started"), Tags("Search and ask")]
    private static async Task<NoContent> DeleteConversation(CollectionRef c, string id, HttpContext http, IGrainFactory grains)
    {
        await grains.GetGrain<IAskGrain>(c.Key).ForgetConversation(Queries.AskerOf(c, http.User), id);
        return TypedResults.NoContent();
    }

    [EndpointName("Search"), EndpointSummary("Search a collection (vector, BM25 or hybrid)"), Tags("Search and ask")]
    private static async Task<Results<Ok<SearchReply>, ProblemHttpResult>> Search(CollectionRef c, HttpContext http, IGrainFactory grains, QueryLog queries)
    {
        var (body, error) = await RagEndpoints.ReadJson<SearchBody>(http.Request);
        return error ?? await Queries.SearchAsync(c, body!, grains, queries, http.RequestAborted);
    }

    [EndpointName("Ask"), EndpointSummary("Answer a question from a collection, with citations (optionally streamed)"), Tags("Search and ask")]
    private static async Task<Results<Ok<AskReply>, ServerSentEventsResult<object>, ProblemHttpResult>> Ask(CollectionRef c, HttpContext http, IGrainFactory grains, QueryLog queries)
    {
        var (body, error) = await RagEndpoints.ReadJson<AskBody>(http.Request);
        if (error is not null) return error;
        if (body!.Stream != true) return await Queries.AskAsync(c, body, http.User, grains, queries, http.RequestAborted);
        // Found (and refused, as problem details) before the stream starts; then the pieces as the ask operation makes them.
        var (sources, traceId) = await Queries.FindSourcesAsync(c, body, http.User, grains, queries, http.RequestAborted);
        return TypedResults.ServerSentEvents(AnswerEvents(grains.GetGrain<IAskGrain>(c.Key).StreamAnswer(sources, http.RequestAborted), traceId));
    }

    // Server-sent events: "token" events with the answer as it is produced, then "citations", then "done"; each event's
    // data is JSON (a token is a JSON string), serialized with the API's JSON options.
    private static async IAsyncEnumerable<SseItem<object>> AnswerEvents(IAsyncEnumerable<AnswerPiece> pieces, string? traceId)
    {
        await foreach (var piece in pieces)
        {
            if (piece.Token is { } token) yield return new SseItem<object>(token, "token");
            else if (piece.Citations is { } citations) yield return new SseItem<object>(Queries.Citations(citations), "citations");
            else if (piece.End is { } end) yield return new SseItem<object>(new AskDone(end.Plan, end.Mode, end.FallbackReason, traceId, end.ConversationId, end.SearchedAs), "done");
        }
    }
}
