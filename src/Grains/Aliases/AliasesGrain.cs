using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Aliases;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Naming;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Persistence;

namespace RagCluster.Grains.Aliases;

[GenerateSerializer, Alias("rc.AliasesState")]
public sealed class AliasesState
{
    [Id(0)] public Dictionary<string, CollectionAlias> Aliases { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Key: tenant name. One tenant's aliases in one stored map: setting or moving one is one write, so every request
/// resolves an alias to the old collection or to the new one, never to both.
/// </summary>
public sealed class AliasesGrain([PersistentState("aliases")] IPersistentState<AliasesState> stored, IGrainContext context, DeepCopier copier)
    : Grain, IAliasesGrain
{
    /// <summary>Aliases a tenant may have (each is a name every request of the tenant may have to look up).</summary>
    public const int MaxAliases = 1000;

    private readonly DurableState<AliasesState> _state = new(stored, context, copier);
    private string Tenant => this.GetPrimaryKeyString();

    public async Task<CollectionAlias> Set(string alias, string collection)
    {
        if (!Names.IsName(alias)) throw new InvalidRequestException("alias: must be " + Names.NameRule);
        if (!Names.IsName(collection)) throw new InvalidRequestException("collection: must be " + Names.NameRule);
        if (alias == collection) throw new InvalidRequestException("collection: an alias cannot name itself");
        // Names never collide: an alias is not a collection's name, and it names a collection, not another alias.
        if (await Exists(alias)) throw new ConflictException($"alias: '{alias}' is a collection's name; aliases and collections share one namespace");
        if (_state.Current.Aliases.ContainsKey(collection)) throw new InvalidRequestException($"collection: '{collection}' is an alias; name a collection");
        if (!await Exists(collection)) throw new InvalidRequestException($"collection: no collection '{collection}' to alias");
        var set = new CollectionAlias(alias, collection, DateTimeOffset.UtcNow);
        await _state.UpdateAsync(s =>
        {
            if (!s.Aliases.ContainsKey(alias) && s.Aliases.Count >= MaxAliases)
                throw new InvalidRequestException($"alias: a tenant has at most {MaxAliases} aliases");
            s.Aliases[alias] = set;
            return true;
        });
        return set;
    }

    public async Task<CollectionAlias?> Remove(string alias)
    {
        if (!_state.Current.Aliases.TryGetValue(alias, out var removed)) return null;
        await _state.UpdateAsync(s => s.Aliases.Remove(alias));
        return removed;
    }

    public Task<string?> Resolve(string alias) => Task.FromResult(_state.Current.Aliases.GetValueOrDefault(alias)?.Collection);

    public Task<CollectionAlias[]> List() => Task.FromResult(_state.Current.Aliases.Values.OrderBy(a => a.Alias, StringComparer.Ordinal).ToArray());

    private Task<bool> Exists(string collection) => GrainFactory.GetGrain<ICollectionGrain>(TenantScope.CollectionKey(Tenant, collection)).Exists();
}
