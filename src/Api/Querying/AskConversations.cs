using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.Collections;
using RagCluster.Grains.Answering;
using RagCluster.Grains.Conversations;
using RagCluster.Grains.Interfaces.Conversations;
using RagCluster.Grains.Interfaces.Querying;

namespace RagCluster.Api.Querying;

/// <summary>A question's conversation: the id it is kept under (none: null) and the turns before it, oldest first.</summary>
public sealed record AskContext(string? ConversationId, IReadOnlyList<(string Question, string Answer)> Turns)
{
    public static readonly AskContext None = new(null, []);
}

/// <summary>
/// Follow-up questions (issue 75, item 2): the turns before a question, kept by the server under a conversation id (one
/// key's, in one collection) or sent by the caller as history, and the question made standalone before retrieval.
/// </summary>
public static class AskConversations
{
    /// <summary>The conversationId that starts a conversation.</summary>
    public const string New = "new";

    /// <summary>The turns before the question, or the problem with the request (an unknown or expired conversation is a 404).</summary>
    public static async Task<(AskContext? Context, ProblemHttpResult? Problem)> OpenAsync(CollectionRef c, AskBody body, ClaimsPrincipal user,
        IGrainFactory grains, ConversationOptions options)
    {
        if (body.ConversationId is not null && body.History is not null)
            return (null, RagEndpoints.Problem(400, "Invalid conversation", "send conversationId or history, not both"));
        if (body.History is { } history)
        {
            if (history.Length > options.MaxHistoryTurns)
                return (null, RagEndpoints.Problem(400, "History too long", $"history holds at most {options.MaxHistoryTurns} turns (Conversations:MaxHistoryTurns); it has {history.Length}"));
            if (history.Any(t => t is null || string.IsNullOrWhiteSpace(t.Question) || t.Question.Length > QueryLimits.MaxQueryChars || t.Answer is { Length: > QueryLimits.MaxHistoryAnswerChars }))
                return (null, RagEndpoints.Problem(400, "Invalid history", $"each turn of history has a question of 1..{QueryLimits.MaxQueryChars} characters and an answer of at most {QueryLimits.MaxHistoryAnswerChars}"));
            return (new AskContext(null, history.Select(t => (t.Question!, t.Answer ?? "")).ToArray()), null);
        }
        if (body.ConversationId is not { } id) return (AskContext.None, null);
        if (id == New)
        {
            var started = await Grain(grains, c, user, ConversationKeys.NewId()).Start();
            return (new AskContext(started.Id, []), null);
        }
        var conversation = ConversationKeys.IsId(id) ? await Grain(grains, c, user, id).Get() : null;
        if (conversation is null) return (null, NotFound(id));
        return (new AskContext(id, conversation.Turns.Select(t => (t.Question, t.Answer)).ToArray()), null);
    }

    /// <summary>
    /// How the question is searched: with an LLM, its standalone rewrite; without one (or while the LLM fails), as asked
    /// with the question before it to fuse (<see cref="FollowUps"/>). A first question is searched as asked.
    /// </summary>
    public static async Task<(string Question, string? Earlier)> StandaloneAsync(string question, AskContext context, ChatAnswerer llm, CancellationToken ct)
    {
        if (context.Turns.Count == 0) return (question, null);
        if (llm.IsConfigured && await llm.CondenseAsync(question, context.Turns, ct) is { } standalone) return (standalone, null);
        return (question, context.Turns[^1].Question);
    }

    /// <summary>What the reply says was searched: nothing for a question searched as asked (no echo of it), else every query.</summary>
    public static string[]? Shown(string question, string[] searchedAs) => searchedAs is [var only] && only == question ? null : searchedAs;

    /// <summary>Keeps the turn in its conversation (none: nothing).</summary>
    public static async Task RememberAsync(IGrainFactory grains, CollectionRef c, ClaimsPrincipal user, AskContext context, string question, string[] searchedAs, string answer)
    {
        if (context.ConversationId is not { } id) return;
        await Grain(grains, c, user, id).Append(new ConversationTurn(question, searchedAs[^1], answer, DateTimeOffset.UtcNow));
    }

    // The key and the documents it reads now: a key whose groups change reaches none of the conversations it had, whose
    // answers quoted documents it may no longer see.
    public static IConversationGrain Grain(IGrainFactory grains, CollectionRef c, ClaimsPrincipal user, string id) =>
        grains.GetGrain<IConversationGrain>(ConversationKeys.Of(c.Key, $"{user.KeyId()}@{AccessMark(c.Access)}", id));

    private static string AccessMark(Grains.Interfaces.Security.ReadAccess access) => access.Everything ? "all"
        : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', access.Groups))))[..16];

    public static ProblemHttpResult NotFound(string id) =>
        RagEndpoints.Problem(404, "Conversation not found", $"conversation '{(id.Length > 40 ? id[..40] + "…" : id)}': {ConversationGrain.Unknown}");
}
