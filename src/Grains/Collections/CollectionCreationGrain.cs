using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Grains.Collections;

/// <summary>
/// Creating a collection (<see cref="ICollectionCreationGrain"/>): the tenant's admission, the collection grain's
/// creation (which refuses a name that exists) and the tenant's list, in that order: the steps the API ran itself,
/// now in one place for every door. An admission whose creation failed lapses within a minute.
/// </summary>
[StatelessWorker]
public sealed class CollectionCreationGrain : Grain, ICollectionCreationGrain
{
    public async Task<CollectionSettings> Create(CollectionSettings settings)
    {
        var key = this.GetPrimaryKeyString();
        var (tenant, collection) = TenantScope.Split(key);
        var tenantGrain = GrainFactory.GetGrain<ITenantGrain>(tenant);
        await tenantGrain.AdmitCollection(collection);
        var created = await GrainFactory.GetGrain<ICollectionGrain>(key).Create(settings);
        await tenantGrain.AddCollection(collection);
        return created;
    }
}
