namespace RagCluster.Grains.Interfaces.Conversations;

/// <summary>
/// One exchange of a conversation: the question as asked, the standalone question it was searched as (the same for a
/// first question), and the answer's text.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.ConversationTurn")]
public sealed record ConversationTurn(string Question, string Standalone, string Answer, DateTimeOffset At);

/// <summary>A conversation's id, when it expires unless a turn comes first, and its last turns (oldest first).</summary>
[GenerateSerializer, Immutable, Alias("rc.Conversation")]
public sealed record Conversation(string Id, DateTimeOffset ExpiresAt, ConversationTurn[] Turns);

public static class ConversationKeys
{
    /// <summary>
    /// A conversation's grain key: the collection, the key (or token subject) that started it, and its id. Another key
    /// asking for the same id reaches another grain, one that holds nothing: a conversation is never another key's.
    /// </summary>
    public static string Of(string collectionKey, string keyId, string id) => $"{collectionKey}/{keyId}/{id}";

    /// <summary>A new conversation id: 128 random bits, hex ("c" + 32 characters).</summary>
    public static string NewId() => "c" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>Whether <paramref name="id"/> has the form <see cref="NewId"/> gives (anything else is unknown without a lookup).</summary>
    public static bool IsId(string? id) => id is { Length: 33 } && id[0] == 'c' && id.AsSpan(1).ContainsAnyExcept("0123456789abcdef") == false;
}
