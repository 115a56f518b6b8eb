using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Persistence;

namespace RagCluster.Grains.Security;

/// <summary>A tenant's key ids and collection names, for listing.</summary>
[GenerateSerializer, Alias("rc.TenantState")]
public sealed class TenantState
{
    [Id(0)] public List<string> KeyIds { get; set; } = [];
    [Id(1)] public List<string> Collections { get; set; } = [];
    /// <summary>What the tenant may store; null: no limits.</summary>
    [Id(2)] public TenantLimits? Limits { get; set; }
}

/// <summary>
/// Key: tenant name. Lists what belongs to the tenant (the keys and collections themselves live in their own grains)
/// and keeps its share (TenantGrain.Share.cs). Not reentrant: a share's check and its reservation are one turn.
/// </summary>
public sealed partial class TenantGrain([PersistentState("tenant")] IPersistentState<TenantState> stored, IGrainContext context, DeepCopier copier)
    : Grain, ITenantGrain
{
    private readonly DurableState<TenantState> _state = new(stored, context, copier);

    public Task AddKey(string keyId) => _state.UpdateAsync(s => AddOnce(s.KeyIds, keyId));

    public Task<string[]> KeyIds() => Task.FromResult(_state.Current.KeyIds.ToArray());

    public async Task AddCollection(string collection)
    {
        await _state.UpdateAsync(s => AddOnce(s.Collections, collection));
        _admitting.Remove(collection);
    }

    public async Task RemoveCollection(string collection)
    {
        await _state.UpdateAsync(s => s.Collections.Remove(collection));
        _held?.Remove(collection);
    }

    public Task<string[]> Collections() => Task.FromResult(_state.Current.Collections.Order(StringComparer.Ordinal).ToArray());

    private static bool AddOnce(List<string> list, string item)
    {
        if (list.Contains(item)) return false;
        list.Add(item);
        return true;
    }
}
