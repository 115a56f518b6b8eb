using Microsoft.Extensions.Options;
using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Conversations;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Persistence;

namespace RagCluster.Grains.Conversations;

[GenerateSerializer, Alias("rc.ConversationState")]
public sealed class ConversationState
{
    [Id(0)] public bool Started { get; set; }
    [Id(1)] public DateTimeOffset ExpiresAt { get; set; }
    [Id(2)] public List<ConversationTurn> Turns { get; set; } = [];
}

/// <summary>
/// One conversation's last turns, stored. Its time-to-live is checked on every call; a reminder (a quarter of the
/// time-to-live apart, at least a minute) clears the stored turns of one that expired and was never asked for again.
/// </summary>
public sealed class ConversationGrain([PersistentState("conversation")] IPersistentState<ConversationState> stored, IGrainContext context,
    DeepCopier copier, IOptions<ConversationOptions> options, TimeProvider time) : Grain, IConversationGrain, IRemindable
{
    private const string ExpiryReminder = "expiry";
    private readonly DurableState<ConversationState> _state = new(stored, context, copier);
    private ConversationOptions Options => options.Value;
    private string Id => this.GetPrimaryKeyString().Split('/')[^1];
    private bool Live => _state.Current.Started && _state.Current.ExpiresAt > time.GetUtcNow();

    public async Task<Conversation> Start()
    {
        await _state.UpdateAsync(s =>
        {
            s.Started = true;
            s.ExpiresAt = time.GetUtcNow() + Options.Ttl;
            s.Turns.Clear();
        });
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(1).Ticks, Options.Ttl.Ticks / 4));
        await ReminderCalls.Run(() => this.RegisterOrUpdateReminder(ExpiryReminder, Options.Ttl, period));
        return Snapshot();
    }

    public async Task<Conversation?> Get()
    {
        if (Live) return Snapshot();
        if (_state.Current.Started) await ForgetAsync(); // expired: asked for again, so gone now rather than at the next reminder
        return null;
    }

    public async Task<Conversation> Append(ConversationTurn turn)
    {
        if (!Live) throw new NotFoundException(Unknown);
        var kept = turn.Answer.Length > Options.MaxAnswerChars ? turn with { Answer = turn.Answer[..Options.MaxAnswerChars] } : turn;
        await _state.UpdateAsync(s =>
        {
            s.Turns.Add(kept);
            if (s.Turns.Count > Options.MaxTurns) s.Turns.RemoveRange(0, s.Turns.Count - Options.MaxTurns);
            s.ExpiresAt = time.GetUtcNow() + Options.Ttl;
        });
        return Snapshot();
    }

    public async Task<bool> Delete()
    {
        var had = Live;
        if (_state.Current.Started) await ForgetAsync();
        return had;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == ExpiryReminder && !Live) await ForgetAsync();
    }

    public const string Unknown = "no such conversation for this key in this collection, or it expired (Conversations:TtlSeconds after its last turn)";

    private Conversation Snapshot() => new(Id, _state.Current.ExpiresAt, _state.Current.Turns.ToArray());

    private async Task ForgetAsync()
    {
        await _state.UpdateAsync(s =>
        {
            s.Started = false;
            s.Turns.Clear();
        });
        await ReminderCalls.UnregisterAsync(this, ExpiryReminder);
        DeactivateOnIdle();
    }
}
