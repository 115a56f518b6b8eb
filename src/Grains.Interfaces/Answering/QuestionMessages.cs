using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Interfaces.Answering;

// Wire types of IAskGrain: new members go at the end (ids in declaration order); [Alias] keeps them readable across moves.

/// <summary>
/// A question as a door passes it on, not yet checked: the checks, the conversation, the search and the answer are
/// <see cref="IAskGrain"/>'s.
/// </summary>
/// <param name="Text">The question as asked (1..<see cref="QueryLimits.MaxQueryChars"/> characters).</param>
/// <param name="TopK">Passages to draw the answer from, 1..<see cref="QueryLimits.MaxTopK"/>.</param>
/// <param name="Filter">The filter's JSON as the caller wrote it; null: none.</param>
/// <param name="Asker">Who asks: whose conversations these are and which documents the answer may draw on.</param>
[GenerateSerializer, Immutable, Alias("rc.Question")]
public sealed record Question(string Text, int TopK, string? Filter, Asker Asker)
{
    /// <summary>A conversation's id to follow up in, <see cref="IAskGrain.NewConversation"/> to start one, or null for none.</summary>
    [Id(4)] public string? ConversationId { get; init; }
    /// <summary>The turns before the question, kept by the caller instead of a conversation (oldest first).</summary>
    [Id(5)] public EarlierTurn[]? History { get; init; }
}

/// <summary>
/// Who asks: the key (or token subject) its conversations belong to, and the documents it may read. A key whose
/// groups change reaches none of its earlier conversations, whose answers quoted documents it may no longer see.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.Asker")]
public sealed record Asker(string KeyId, ReadAccess Access);

/// <summary>A turn of history the caller sends: its question and (optionally empty) answer.</summary>
[GenerateSerializer, Immutable, Alias("rc.EarlierTurn")]
public sealed record EarlierTurn(string Question, string Answer);

/// <summary>
/// A question's sources, found and ready to answer from: the search and its extractive answer, the conversation the
/// answer goes into, and whether the language model is asked (decided once, here).
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.QuestionSources")]
public sealed record QuestionSources(Question Question, AskResponse Found, string? ConversationId, bool AsksModel);

/// <summary>
/// How an answer ended: its plan, its mode ("generated", "extractive" or "extractive-fallback") and why the model gave
/// none, the conversation it was kept in, and what was searched (null when the question was searched as asked).
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.AnswerEnd")]
public sealed record AnswerEnd(string Plan, string Mode, string? FallbackReason, string? ConversationId, string[]? SearchedAs);

/// <summary>A whole answer, how it ended, and the search it drew on (for the door's query log).</summary>
[GenerateSerializer, Immutable, Alias("rc.QuestionAnswer")]
public sealed record QuestionAnswer(Answer Answer, AnswerEnd End, SearchResponse Search);

/// <summary>One event of a streamed answer, exactly one member set: a piece of its text, then its citations, then its end.</summary>
[GenerateSerializer, Immutable, Alias("rc.AnswerPiece")]
public sealed record AnswerPiece(string? Token, Citation[]? Citations, AnswerEnd? End);
