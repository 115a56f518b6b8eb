using Microsoft.Extensions.Logging;

namespace RagCluster.Grains.Answering;

/// <summary>The answer path's log lines, source-generated (they fire per question while a dependency is down).</summary>
internal static partial class AnswerLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "LLM answer failed, falling back to extractive: {Reason}")]
    public static partial void LlmAnswerFailed(this ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LLM stream failed: {Reason}")]
    public static partial void LlmStreamFailed(this ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LLM could not condense a follow-up, which is searched with the question before it instead: {Reason}")]
    public static partial void LlmCondenseFailed(this ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Answer sentences chosen by their words alone: they could not be embedded ({Error})")]
    public static partial void SentencesNotEmbedded(this ILogger logger, string error);
}
