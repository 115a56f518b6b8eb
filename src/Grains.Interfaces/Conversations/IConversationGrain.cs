namespace RagCluster.Grains.Interfaces.Conversations;

/// <summary>
/// Key: <see cref="ConversationKeys.Of"/>. The last turns of one conversation, kept in the grains' storage (so a silo's
/// death loses none), for a time-to-live that each turn renews and a bounded number of turns.
/// </summary>
[Alias("rc.IConversationGrain")]
public interface IConversationGrain : IGrainWithStringKey
{
    /// <summary>Starts the conversation (no turns yet).</summary>
    Task<Conversation> Start();

    /// <summary>The conversation, or null when it was never started, was deleted or has expired.</summary>
    Task<Conversation?> Get();

    /// <summary>Adds a turn (the oldest drop past the bound) and renews the time-to-live.</summary>
    /// <exception cref="Errors.NotFoundException">It was never started, was deleted or has expired.</exception>
    Task<Conversation> Append(ConversationTurn turn);

    /// <summary>Forgets the conversation; false when there was none.</summary>
    Task<bool> Delete();
}
