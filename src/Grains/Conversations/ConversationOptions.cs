namespace RagCluster.Grains.Conversations;

/// <summary>Bound from "Conversations": how long and how much of a conversation the server keeps.</summary>
public sealed class ConversationOptions : RagCluster.Configuration.IValidatedOptions
{
    /// <summary>A conversation with no turn for this long is gone (a 404); each turn starts the time again.</summary>
    public double TtlSeconds { get; set; } = 3600;

    /// <summary>The turns kept (the oldest drop first); a follow-up is made standalone from these.</summary>
    public int MaxTurns { get; set; } = 10;

    /// <summary>The turns a request's own "history" may carry.</summary>
    public int MaxHistoryTurns { get; set; } = Interfaces.Querying.QueryLimits.DefaultHistoryTurns;

    /// <summary>An answer's characters kept in a turn (a longer one is cut): enough to condense a follow-up, bounded in storage.</summary>
    public int MaxAnswerChars { get; set; } = 4000;

    public TimeSpan Ttl => TimeSpan.FromSeconds(TtlSeconds);

    public void Validate()
    {
        if (TtlSeconds is < 1 or > 30 * 86400 || double.IsNaN(TtlSeconds)) throw new ArgumentException("Conversations:TtlSeconds must be 1..2592000 (30 days)");
        if (MaxTurns is < 1 or > 100) throw new ArgumentException("Conversations:MaxTurns must be 1..100");
        if (MaxHistoryTurns is < 1 or > 100) throw new ArgumentException("Conversations:MaxHistoryTurns must be 1..100");
        if (MaxAnswerChars is < 100 or > 100_000) throw new ArgumentException("Conversations:MaxAnswerChars must be 100..100000");
    }
}
