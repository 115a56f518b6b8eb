using Orleans.Serialization;

namespace RagCluster.Grains.Persistence;

/// <summary>
/// A grain's persistent state that changes only by being stored. A change is made to a copy, the copy is written, and
/// only a written copy becomes <see cref="Current"/>, so the activation never holds (or shows a reader) a change that
/// storage does not have. When a write fails the caller sees the failure (StorageUnavailableException or
/// InconsistentStateException), <see cref="Current"/> stays what storage last confirmed, and the activation is
/// deactivated: a write whose connection broke may have committed after all, and the next activation reads which.
/// Writes take turns, so a reentrant grain's overlapping changes never race on the ETag.
/// </summary>
public sealed class DurableState<T>(IPersistentState<T> state, IGrainContext grain, DeepCopier copier) where T : class
{
    private readonly SemaphoreSlim _turn = new(1, 1);
    // While a write is in flight, state.State is the copy being written and this is what storage still holds.
    private (bool Writing, T Confirmed) _inFlight;

    /// <summary>The state as storage last confirmed it (or read it on activation). Never changed in place.</summary>
    public T Current => _inFlight.Writing ? _inFlight.Confirmed : state.State;

    public bool RecordExists => state.RecordExists;

    /// <summary>
    /// Applies <paramref name="change"/> to a copy of <see cref="Current"/> and stores it; the change returns false to
    /// store nothing. It runs in the write's turn, so it sees every earlier change: check preconditions inside it.
    /// </summary>
    /// <returns>Whether a change was stored.</returns>
    public async Task<bool> UpdateAsync(Func<T, bool> change)
    {
        await _turn.WaitAsync();
        try
        {
            var before = state.State;
            var next = copier.Copy(before)!;
            if (!change(next)) return false;
            _inFlight = (true, before);
            state.State = next;
            try
            {
                await state.WriteStateAsync();
            }
            catch
            {
                state.State = before;
                grain.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "a state write failed; the next activation re-reads storage"));
                throw;
            }
            finally
            {
                _inFlight = default;
            }
            return true;
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <summary>
    /// Makes <paramref name="value"/> <see cref="Current"/> without writing it: a state another store holds (a record a bulk
    /// write put in the collection's registry, newer than what is stored here). The first update then stores it here,
    /// changed. Refused (false) while a write is in flight.
    /// </summary>
    public bool Adopt(T value)
    {
        if (_inFlight.Writing || _turn.CurrentCount == 0) return false;
        state.State = value;
        return true;
    }

    /// <inheritdoc cref="UpdateAsync(Func{T, bool})"/>
    public Task UpdateAsync(Action<T> change) => UpdateAsync(s =>
    {
        change(s);
        return true;
    });
}
