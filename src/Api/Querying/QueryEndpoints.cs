using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.Collections;
using RagCluster.Api.Dashboard;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Querying;
using Microsoft.Extensions.Options;
using RagCluster.Grains.Answering;
using RagCluster.Grains.Conversations;
using RagCluster.Grains.Interfaces.Conversations;

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
        collection.MapGet("/conversations/{id}", GetConversation).RequireAuthorization(AuthSetup.Reader);
        collection.MapDelete("/conversations/{id}", DeleteConversation).RequireAuthorization(AuthSetup.Reader);
    }

    [EndpointName("GetConversation"), EndpointSummary("Read a conversation your key started: its turns and when it expires"), Tags("Search and ask")]
    private static async Task<Results<Ok<ConversationReply>, ProblemHttpResult>> GetConversation(CollectionRef c, string id, HttpContext http, IGrainFactory grains)
    {
        var kept = ConversationKeys.IsId(id) ? await AskConversations.Grain(grains, c, http.User, id).Get() : null;
        return kept is null ? AskConversations.NotFound(id)
            : TypedResults.Ok(new ConversationReply(kept.Id, kept.ExpiresAt, kept.Turns.Select(t => new ConversationTurnReply(t.Question, t.Standalone, t.Answer, t.At)).ToArray()));
    }

    [EndpointName("DeleteConversation"), EndpointSummary("Forget a conversation your key started"), Tags("Search and ask")]
    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteConversation(CollectionRef c, string id, HttpContext http, IGrainFactory grains) =>
        ConversationKeys.IsId(id) && await AskConversations.Grain(grains, c, http.User, id).Delete() ? TypedResults.NoContent() : AskConversations.NotFound(id);

    [EndpointName("Search"), EndpointSummary("Search a collection (vector, BM25 or hybrid)"), Tags("Search and ask")]
    private static async Task<Results<Ok<SearchReply>, ProblemHttpResult>> Search(CollectionRef c, HttpContext http, IGrainFactory grains, QueryLog queries)
    {
        var (body, error) = await RagEndpoints.ReadJson<SearchBody>(http.Request);
        return error ?? await Queries.SearchAsync(c, body!, grains, queries, http.RequestAborted);
    }

    [EndpointName("Ask"), EndpointSummary("Answer a question from a collection, with citations (optionally streamed)"), Tags("Search and ask")]
    private static async Task<Results<Ok<AskReply>, ServerSentEventsResult<object>, ProblemHttpResult>> Ask(CollectionRef c, HttpContext http, IGrainFactory grains, ChatAnswerer llm,
        QueryLog queries, IOptions<ConversationOptions> conversations)
    {
        var (body, error) = await RagEndpoints.ReadJson<AskBody>(http.Request);
        if (error is not null) return error;
        if (body!.Stream != true)
            return (await Queries.AskAsync(c, body, http.User, grains, llm, queries, conversations.Value, http.RequestAborted)).Result switch
            {
                Ok<AskReply> ok => ok,
                var other => (ProblemHttpResult)other,
            };
        if (Queries.ValidQuery(body.Question, body.TopK, "question") is { } badQuery) return badQuery;
        var (context, problem) = await AskConversations.OpenAsync(c, body, http.User, grains, conversations.Value);
        if (problem is not null) return problem;
        var (asked, traceId) = await Queries.FindSourcesAsync(c, body, context!, llm, grains, queries, http.RequestAborted);
        return TypedResults.ServerSentEvents(AnswerEvents(llm, asked, traceId, text =>
            AskConversations.RememberAsync(grains, c, http.User, context!, body.Question!, asked.SearchedAs, text), context!.ConversationId,
            AskConversations.Shown(body.Question!, asked.SearchedAs), http.RequestAborted));
    }

    // Server-sent events: "token" events with the answer as it is produced, then "citations", then "done"; each event's
    // data is JSON (a token is a JSON string), serialized with the API's JSON options.
    private static async IAsyncEnumerable<SseItem<object>> AnswerEvents(ChatAnswerer llm, AskResponse asked, string? traceId, Func<string, Task> remember,
        string? conversationId, string[]? shownSearchedAs, [EnumeratorCancellation] CancellationToken ct)
    {
        var search = asked.Search;
        var question = asked.SearchedAs[^1];
        var passages = Queries.Passages(asked);
        var asksModel = AnswerModes.AsksModel(llm, search.Hits.Length);
        Answer answer;
        var failure = new ChatAnswerer.StreamFailure();
        var text = new System.Text.StringBuilder();
        if (asksModel)
        {
            await foreach (var piece in llm.StreamAsync(question, passages, failure, ct))
            {
                text.Append(piece);
                yield return new SseItem<object>(piece, "token");
            }
        }
        var generated = text.Length > 0;
        if (generated) answer = ChatAnswerer.WithCitations(text.ToString(), passages);
        else
        {
            answer = asked.Extractive;
            foreach (var word in Regex.Split(answer.Text, @"(?<=\s)")) yield return new SseItem<object>(word, "token");
        }
        yield return new SseItem<object>(Queries.Citations(answer), "citations");
        await remember(answer.Text); // kept before "done", so a follow-up sent on "done" finds it
        yield return new SseItem<object>(new AskDone(search.Plan, AnswerModes.Of(asksModel, generated), failure.Reason, traceId, conversationId, shownSearchedAs), "done");
    }
}
