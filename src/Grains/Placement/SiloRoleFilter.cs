using Orleans.Metadata;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace RagCluster.Grains.Placement;

/// <summary>
/// Places a grain only on silos that offer <see cref="Role"/> (<see cref="SiloRoles"/>, published as Orleans silo
/// metadata). An Orleans placement filter, so it narrows whatever strategy the grain has: a stateless worker still
/// activates on the calling silo when that silo offers the role, and on one of those that do otherwise. With no such
/// silo active, placement fails ("No active nodes are compatible"), which callers treat as "wait and retry".
/// </summary>
public sealed class SiloRoleFilterStrategy : PlacementFilterStrategy
{
    private const string RoleProperty = "role";

    public SiloRoleFilterStrategy() : this(SiloRoles.Embedding) { }

    public SiloRoleFilterStrategy(string role, int order = 0) : base(order) => Role = role;

    public string Role { get; private set; }

    public override void AdditionalInitialize(GrainProperties properties) =>
        Role = GetPlacementFilterGrainProperty(RoleProperty, properties) ?? throw new ArgumentException("the silo role filter has no role");

    protected override IEnumerable<KeyValuePair<string, string>> GetAdditionalGrainProperties(IServiceProvider services, Type grainClass,
        GrainType grainType, IReadOnlyDictionary<string, string> existingProperties)
    {
        yield return new(RoleProperty, Role);
    }
}

[AttributeUsage(AttributeTargets.Class)]
public sealed class SiloRoleFilterAttribute(string role) : PlacementFilterAttribute(new SiloRoleFilterStrategy(role));

/// <summary>Keeps the silos whose metadata names the role; this silo answers from its own configuration (its metadata may not be cached yet).</summary>
public sealed class SiloRoleFilterDirector(ISiloMetadataCache metadata, ILocalSiloDetails local, SiloRoles localRoles) : IPlacementFilterDirector
{
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        var role = ((SiloRoleFilterStrategy)filterStrategy).Role;
        return silos.Where(silo => Offers(silo, role));
    }

    public bool Offers(SiloAddress silo, string role) => silo.Equals(local.SiloAddress)
        ? localRoles.Has(role)
        : SiloRoles.FromMetadata(metadata.GetSiloMetadata(silo).Metadata).Has(role);
}
