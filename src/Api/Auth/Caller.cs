using System.Security.Claims;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Auth;

/// <summary>Who is calling: the claims every authentication scheme here puts on the principal.</summary>
public static class Caller
{
    public const string KeyIdClaim = "rc:key", TenantClaim = "rc:tenant", RoleClaim = "rc:role", GroupClaim = "rc:group";

    public static ClaimsPrincipal Principal(string keyId, string tenant, string role, string scheme, IEnumerable<string>? groups = null) =>
        new(new ClaimsIdentity([new Claim(KeyIdClaim, keyId), new Claim(TenantClaim, tenant), new Claim(RoleClaim, role),
            .. (groups ?? []).Select(g => new Claim(GroupClaim, g))], scheme, KeyIdClaim, RoleClaim));

    public static string? KeyId(this ClaimsPrincipal user) => user.FindFirst(KeyIdClaim)?.Value;
    public static string? Tenant(this ClaimsPrincipal user) => user.FindFirst(TenantClaim)?.Value;
    public static string? Role(this ClaimsPrincipal user) => user.FindFirst(RoleClaim)?.Value;
    public static string[] Groups(this ClaimsPrincipal user) => user.FindAll(GroupClaim).Select(c => c.Value).ToArray();

    /// <summary>
    /// Which documents of a collection with an access field the caller reads: operators and tenant admins every one
    /// (they mint keys of any group, so hiding documents from them would be no wall), writers and readers those of their
    /// groups. Only what the key or token says counts; no request can widen it.
    /// </summary>
    public static ReadAccess Access(this ClaimsPrincipal user) =>
        Roles.Allows(user.Role() ?? "", Roles.Admin) ? ReadAccess.All : ReadAccess.Of(user.Groups());

    /// <summary>The tenant of an authenticated caller; endpoints behind a role policy always have one.</summary>
    public static string RequiredTenant(this ClaimsPrincipal user) =>
        user.Tenant() ?? throw new InvalidOperationException("endpoint reached without an authenticated tenant");
}
