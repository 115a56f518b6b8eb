using RagCluster.Grains.Interfaces.Conversations;

namespace RagCluster.Grains.Interfaces.Answering;

/// <summary>
/// Key: the collection's key. Asking as one operation in the cluster, whichever door a question came in by: the
/// question's checks, its conversation (kept per key and rights), the follow-up made standalone, the trimmed search,
/// the answer's mode (generated, extractive or its fallback) and the turn kept, each in one place. A local stateless
/// worker, so it runs on the silo that took the request, beside the language model client that silo has.
/// </summary>
[Alias("rc.IAskGrain")]
public interface IAskGrain : IGrainWithStringKey
{
    /// <summary>The conversationId that starts a conversation.</summary>
    public const string NewConversation = "new";

    /// <summary>
    /// The question answered whole and kept in its conversation. Throws <see cref="Errors.InvalidRequestException"/>
    /// for a bad question, history or filter, and <see cref="Errors.NotFoundException"/> for an unknown conversation.
    /// </summary>
    [ResponseTimeout("00:02:00")] // a model's answer may take a minute; as long as the API lets a request run
    Task<QuestionAnswer> Answer(Question question, CancellationToken cancellationToken = default);

    /// <summary>The question checked, its conversation opened and its sources found, for <see cref="StreamAnswer"/>; throws as <see cref="Answer"/>.</summary>
    [ResponseTimeout("00:02:00")]
    Task<QuestionSources> FindSources(Question question, CancellationToken cancellationToken = default);

    /// <summary>
    /// The answer from its sources as it is made: its text in pieces (the model's, or the extractive answer's words),
    /// then its citations, then its end, the turn kept in its conversation before the end is sent (so a follow-up sent
    /// on the end finds it).
    /// </summary>
    IAsyncEnumerable<AnswerPiece> StreamAnswer(QuestionSources sources, CancellationToken cancellationToken = default);

    /// <summary>
    /// The asker's conversation of that id; <see cref="Errors.NotFoundException"/> when there is none of theirs (never
    /// started, deleted, expired, or another key's).
    /// </summary>
    Task<Conversation> Conversation(Asker asker, string id);

    /// <summary>Forgets the asker's conversation of that id; <see cref="Errors.NotFoundException"/> when there is none of theirs.</summary>
    Task ForgetConversation(Asker asker, string id);
}
