namespace RagCluster.Api.Auth;

/// <summary>
/// Optional JWT bearer tokens ("Auth:Jwt"): HS256 with <see cref="SigningKey"/> or RS256 with <see cref="PublicKeyPem"/>.
/// The token names its tenant and role in claims (<see cref="TenantClaim"/>, <see cref="RoleClaim"/>), and its groups
/// (<see cref="GroupsClaim"/>).
/// </summary>
public sealed class JwtOptions
{
    public string? Issuer { get; set; }
    public string? Audience { get; set; }
    /// <summary>HS256 shared secret (at least 32 bytes of UTF-8).</summary>
    public string? SigningKey { get; set; }
    /// <summary>RS256 public key, PEM ("-----BEGIN PUBLIC KEY-----...").</summary>
    public string? PublicKeyPem { get; set; }
    public string TenantClaim { get; set; } = "tenant";
    public string RoleClaim { get; set; } = "role";
    /// <summary>The claim with the caller's groups (a JSON array, or the claim repeated), for collections with an access field; absent: none.</summary>
    public string GroupsClaim { get; set; } = "groups";

    public bool Enabled => !string.IsNullOrEmpty(SigningKey) || !string.IsNullOrEmpty(PublicKeyPem);

    public void Validate()
    {
        if (!Enabled) return;
        if (string.IsNullOrEmpty(Issuer) || string.IsNullOrEmpty(Audience)) throw new ArgumentException("Auth:Jwt needs Issuer and Audience");
        if (SigningKey is { } k && System.Text.Encoding.UTF8.GetByteCount(k) < 32) throw new ArgumentException("Auth:Jwt:SigningKey must be at least 32 bytes");
    }
}
