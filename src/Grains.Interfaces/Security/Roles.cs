namespace RagCluster.Grains.Interfaces.Security;

public static class Roles
{
    /// <summary>operator: the whole cluster, every tenant. admin: its own tenant's keys, audit, backup and restore.</summary>
    public const string Operator = "operator", Admin = "admin", Writer = "writer", Reader = "reader";
    public static readonly string[] All = [Operator, Admin, Writer, Reader];

    /// <summary>Keys stored from now on say <see cref="CurrentSchema"/>; those stored before the two admin levels say 0.</summary>
    public const int CurrentSchema = 1;

    /// <summary>operator ⊃ admin ⊃ writer ⊃ reader.</summary>
    public static bool Allows(string held, string needed) => Rank(held) >= Rank(needed) && Rank(needed) > 0;

    public static int Rank(string? role) => role switch { Operator => 4, Admin => 3, Writer => 2, Reader => 1, _ => 0 };

    /// <summary>
    /// The role a stored key has now. Before the two admin levels, "admin" was the operator role: such a key of the
    /// operator's own tenant (Auth:BootstrapTenant) stays an operator on upgrade; one of any other tenant, made for that
    /// tenant's use, becomes that tenant's admin.
    /// </summary>
    public static string Upgraded(string role, int schema, string tenant, string operatorTenant) =>
        schema < CurrentSchema && role == Admin && tenant == operatorTenant ? Operator : role;
}
