using RagCluster.Grains.Interfaces.Answering;
using RagCluster.Grains.Interfaces.Conversations;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Answering;

// A question's conversation (issue 75, item 2): the turns before it, kept by the server under a conversation id (one
// key's, with its rights, in one collection) or sent by the caller as history, and the question made standalone.
public sealed partial class AskGrain
{
    public async Task<Conversation> Conversation(Asker asker, string id) =>
        (ConversationKeys.IsId(id) ? await Kept(asker, id).Get() : null) ?? throw NotFound(id);

    public async Task ForgetConversation(Asker asker, string id)
    {
        if (!ConversationKeys.IsId(id) || !await Kept(asker, id).Delete()) throw NotFound(id);
    }

    /// <summary>The question's conversation id (none: null) and the turns before it, oldest first; a bad history is a 400, an unknown conversation a 404.</summary>
    private async Task<(string? Id, IReadOnlyList<(string Question, string Answer)> Turns)> OpenAsync(Question question)
    {
        if (question.ConversationId is not null && question.History is not null)
            throw new InvalidRequestException("Invalid conversation", "send conversationId or history, not both");
        if (question.History is { } history)
        {
            var most = conversations.Value.MaxHistoryTurns;
            if (history.Length > most)
                throw new InvalidRequestException("History too long", $"history holds at most {most} turns (Conversations:MaxHistoryTurns); it has {history.Length}");
            if (history.Any(t => t is null || string.IsNullOrWhiteSpace(t.Question) || t.Question.Length > QueryLimits.MaxQueryChars || t.Answer is { Length: > QueryLimits.MaxHistoryAnswerChars }))
                throw new InvalidRequestException("Invalid history",
                    $"each turn of history has a question of 1..{QueryLimits.MaxQueryChars} characters and an answer of at most {QueryLimits.MaxHistoryAnswerChars}");
            return (null, history.Select(t => (t.Question, t.Answer ?? "")).ToArray());
        }
        if (question.ConversationId is not { } id) return (null, []);
        if (id == IAskGrain.NewConversation)
            return ((await Kept(question.Asker, ConversationKeys.NewId()).Start()).Id, []);
        var kept = await Conversation(question.Asker, id);
        return (id, kept.Turns.Select(t => (t.Question, t.Answer)).ToArray());
    }

    /// <summary>
    /// How the question is searched: with a language model, its standalone rewrite; without one (or while it fails), as
    /// asked with the question before it to fuse (<see cref="FollowUps"/>). A first question is searched as asked.
    /// </summary>
    private async Task<(string Question, string? Earlier)> StandaloneAsync(string question, IReadOnlyList<(string Question, string Answer)> turns, CancellationToken ct)
    {
        if (turns.Count == 0) return (question, null);
        if (llm.IsConfigured && await llm.CondenseAsync(question, turns, ct) is { } standalone) return (standalone, null);
        return (question, turns[^1].Question);
    }

    /// <summary>Keeps the turn in its conversation (none: nothing).</summary>
    private async Task RememberAsync(QuestionSources sources, string answer)
    {
        if (sources.ConversationId is not { } id) return;
        await Kept(sources.Question.Asker, id).Append(new ConversationTurn(sources.Question.Text, sources.Found.SearchedAs[^1], answer, DateTimeOffset.UtcNow));
    }

    // The key and the documents it reads now: a key whose groups change reaches none of the conversations it had.
    private IConversationGrain Kept(Asker asker, string id) =>
        GrainFactory.GetGrain<IConversationGrain>(ConversationKeys.Of(CollectionKey, $"{asker.KeyId}@{AccessMark(asker.Access)}", id));

    private static string AccessMark(ReadAccess access) => access.Everything ? "all"
        : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', access.Groups))))[..16];

    private static NotFoundException NotFound(string id) =>
        new("Conversation not found", $"conversation '{(id.Length > 40 ? id[..40] + "…" : id)}': {Conversations.ConversationGrain.Unknown}");
}
