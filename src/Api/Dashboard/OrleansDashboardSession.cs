using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.HttpResults;
using Orleans.Dashboard;
using RagCluster.Api.Auth;

namespace RagCluster.Api.Dashboard;

/// <summary>
/// Orleans' dashboard is a single-page app whose own requests carry no API key header, so an admin opens it from
/// /dashboard, which trades the key for this cookie: the key itself, encrypted and time-limited by ASP.NET Core
/// data protection, sent only to /dashboard/orleans (HttpOnly, SameSite=Strict). Each request re-verifies the key,
/// so revoking or rotating it closes the session within Auth:CacheSeconds (at most a second).
/// </summary>
public sealed class OrleansDashboardSession(IDataProtectionProvider protection)
{
    public const string Path = "/dashboard/orleans";
    public const string CookieName = "rc_orleans_dashboard";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    private readonly ITimeLimitedDataProtector _protector = protection.CreateProtector("RagCluster.OrleansDashboard.v1").ToTimeLimitedDataProtector();

    public void Issue(HttpContext http, string key) =>
        http.Response.Cookies.Append(CookieName, _protector.Protect(key, Lifetime), new CookieOptions
        {
            Path = Path, HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = http.Request.IsHttps, MaxAge = Lifetime, IsEssential = true,
        });

    /// <summary>The key in a request to the Orleans dashboard's paths, or null (no cookie, another path, tampered or expired).</summary>
    public string? KeyOf(HttpRequest request)
    {
        if (!request.Path.StartsWithSegments(Path) || !request.Cookies.TryGetValue(CookieName, out var cookie)) return null;
        try { return _protector.Unprotect(cookie); }
        catch (System.Security.Cryptography.CryptographicException) { return null; }
    }

    public static void MapOrleansDashboardPages(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/dashboard/orleans-session", OpenOrleansDashboardSession).RequireAuthorization(AuthSetup.Operator).ProducesProblem(400);
        // Orleans' own pages and their data: not RagCluster's API, left out of its OpenAPI document.
        app.MapOrleansDashboard(Path).RequireAuthorization(AuthSetup.Operator).ExcludeFromDescription();
    }

    // Opened from /dashboard with the admin key in the header: the answer sets the cookie the dashboard's pages need.
    [EndpointName("OpenOrleansDashboardSession"), EndpointSummary("Trade an admin key for an Orleans dashboard session cookie"), Tags("Cluster")]
    private static Results<NoContent, ProblemHttpResult> OpenOrleansDashboardSession(HttpContext http, OrleansDashboardSession session)
    {
        // The cookie carries an API key; a JWT caller has none to put in it (the cookie path checks keys only).
        if (http.User.Identity?.AuthenticationType != ApiKeyAuthenticationHandler.SchemeName)
            return RagCluster.Api.RagEndpoints.Problem(400, "API key needed", "open Orleans' dashboard with an admin API key, not a JWT");
        session.Issue(http, ApiKeyAuthenticationHandler.PresentedKey(http.Request)!);
        return TypedResults.NoContent();
    }

    /// <summary>Orleans' per-silo dashboard pages parse the address in the path and throw on a malformed one (a 500): checked here first, a 400.</summary>
    public static IApplicationBuilder UseSiloAddressCheck(IApplicationBuilder app) =>
        app.Use(async (http, next) =>
        {
            var address = !http.Request.Path.StartsWithSegments(Path) ? null
                : http.GetRouteValue("address") ?? (http.Request.Path.StartsWithSegments(Path + "/HistoricalStats") ? http.GetRouteValue("path") : null); // fonts/ and img/ take a path too
            if (address is string text && !IsSiloAddress(text))
            {
                await RagCluster.Api.RagEndpoints.Problem(400, "Invalid silo address", "expected a silo address as /v1/cluster lists them (host:port@generation)").ExecuteAsync(http);
                return;
            }
            await next();
        });

    private static bool IsSiloAddress(string text)
    {
        try
        {
            return Orleans.Runtime.SiloAddress.FromParsableString(Uri.UnescapeDataString(text)) is not null;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            return false;
        }
    }
}
