using RagCluster.Configuration;
namespace RagCluster.Api.Auth;

/// <summary>The "Auth" configuration section.</summary>
public sealed class AuthOptions : IValidatedOptions
{
    /// <summary>
    /// An admin key every API silo accepts (env Auth__BootstrapAdminKey, e.g. from a Kubernetes Secret), compared
    /// by hash and never stored. When empty, the cluster issues one admin key on its first start and prints it once.
    /// </summary>
    public string? BootstrapAdminKey { get; set; }

    /// <summary>The tenant the bootstrap admin key belongs to.</summary>
    public string BootstrapTenant { get; set; } = Grains.Interfaces.Security.TenantScope.DefaultTenant;

    /// <summary>How long a key check is reused; revocation and rotation take effect within this time (at most 1 s).</summary>
    public double CacheSeconds { get; set; } = 1;

    /// <summary>Serve /metrics without a key (for a Prometheus inside a NetworkPolicy); otherwise it needs an admin key.</summary>
    public bool AnonymousMetrics { get; set; }

    public JwtOptions Jwt { get; set; } = new();

    public void Validate()
    {
        if (CacheSeconds is < 0 or > 1) throw new ArgumentException("Auth:CacheSeconds must be 0..1: a revoked key must stop working within a second");
        if (!Grains.Interfaces.Naming.Names.IsName(BootstrapTenant)) throw new ArgumentException("Auth:BootstrapTenant must be " + Grains.Interfaces.Naming.Names.NameRule);
        if (BootstrapAdminKey is { Length: > 0 and < 32 }) throw new ArgumentException("Auth:BootstrapAdminKey must be at least 32 characters");
        Jwt.Validate();
    }
}
