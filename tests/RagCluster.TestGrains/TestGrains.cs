using System.Collections.Concurrent;
using Orleans;
using Orleans.Runtime;

namespace RagCluster.TestGrains;

/// <summary>Counts live activations per grain across every in-process silo, and the most ever alive at once.</summary>
public static class ActivationTracker
{
    private static readonly ConcurrentDictionary<string, (int Live, int Max)> Counts = new();

    public static void Activated(GrainId id) =>
        Counts.AddOrUpdate(id.ToString(), (1, 1), (_, c) => (c.Live + 1, Math.Max(c.Max, c.Live + 1)));

    public static void Deactivated(GrainId id) => Counts.AddOrUpdate(id.ToString(), (0, 0), (_, c) => (c.Live - 1, c.Max));

    public static int MaxConcurrent(string grainKey) =>
        Counts.Where(kv => kv.Key.EndsWith("/" + grainKey, StringComparison.Ordinal)).Select(kv => kv.Value.Max).DefaultIfEmpty(0).Max();
}

[GenerateSerializer, Alias("test.CounterState")]
public sealed class CounterState
{
    [Id(0)] public int Value { get; set; }
}

[Alias("test.ICounterGrain")]
public interface ICounterGrain : IGrainWithStringKey
{
    Task<int> Add(int delta);
    Task<int> Get();
    Task<string> WhereAmI();
}

/// <summary>Persists on every Add, so a crash loses nothing that was acknowledged.</summary>
public sealed class CounterGrain([PersistentState("counter")] IPersistentState<CounterState> state) : Grain, ICounterGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        ActivationTracker.Activated(this.GetGrainId());
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        ActivationTracker.Deactivated(this.GetGrainId());
        return Task.CompletedTask;
    }

    public async Task<int> Add(int delta)
    {
        state.State.Value += delta;
        await state.WriteStateAsync();
        return state.State.Value;
    }

    public Task<int> Get() => Task.FromResult(state.State.Value);
    public Task<string> WhereAmI() => Task.FromResult(RuntimeIdentity);
}
