using System.Security.Claims;

namespace RagCluster.Api.Auth;

/// <summary>Who is calling: the claims every authentication scheme here puts on the principal.</summary>
public static class Caller
{
    public const string KeyIdClaim = "rc:key", TenantClaim = "rc:tenant", RoleClaim = "rc:role";

    public static ClaimsPrincipal Principal(string keyId, string tenant, string role, string scheme) =>
        new(new ClaimsIdentity([new Claim(KeyIdClaim, keyId), new Claim(TenantClaim, tenant), new Claim(RoleClaim, role)], scheme, KeyIdClaim, RoleClaim));

    public static string? KeyId(this ClaimsPrincipal user) => user.FindFirst(KeyIdClaim)?.Value;
    public static string? Tenant(this ClaimsPrincipal user) => user.FindFirst(TenantClaim)?.Value;
    public static string? Role(this ClaimsPrincipal user) => user.FindFirst(RoleClaim)?.Value;

    /// <summary>The tenant of an authenticated caller; endpoints behind a role policy always have one.</summary>
    public static string RequiredTenant(this ClaimsPrincipal user) =>
        user.Tenant() ?? throw new InvalidOperationException("endpoint reached without an authenticated tenant");
}
