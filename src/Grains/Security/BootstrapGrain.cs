using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Persistence;

namespace RagCluster.Grains.Security;

/// <summary>Whether the cluster's first operator key was issued.</summary>
[GenerateSerializer, Alias("rc.BootstrapState")]
public sealed class BootstrapState
{
    [Id(0)] public string? KeyId { get; set; }
}

/// <summary>One per cluster: the record that the first (operator) key was issued, so it is printed once and never again.</summary>
public sealed class BootstrapGrain([PersistentState("bootstrap")] IPersistentState<BootstrapState> stored, IGrainContext context, DeepCopier copier)
    : Grain, IBootstrapGrain
{
    private readonly DurableState<BootstrapState> _state = new(stored, context, copier);

    public async Task<ApiKeyInfo?> IssueOnce(string tenant)
    {
        if (_state.Current.KeyId is { } issued)
        {
            // Recorded but never created (a crash in between): nobody saw it, so create it now. Otherwise it was shown.
            var key = GrainFactory.GetGrain<IApiKeyGrain>(issued);
            return await key.GetInfo() is null ? await key.Create(tenant, Roles.Operator, "bootstrap operator key") : null;
        }
        var keyId = ApiKeyFormat.NewKeyId();
        // Recorded before the key exists, so two silos starting together can never both print one.
        await _state.UpdateAsync(s => { s.KeyId = keyId; });
        return await GrainFactory.GetGrain<IApiKeyGrain>(keyId).Create(tenant, Roles.Operator, "bootstrap operator key");
    }
}
