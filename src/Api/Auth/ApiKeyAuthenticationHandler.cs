using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace RagCluster.Api.Auth;

/// <summary>
/// Reads "X-Api-Key: KEY" or "Authorization: Bearer KEY" (or, on Orleans' dashboard pages only, the session cookie
/// that carries a key) and turns a valid key into a principal.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyVerifier verifier,
    RagCluster.Api.Dashboard.OrleansDashboardSession dashboardSession)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = PresentedKey(Request) ?? dashboardSession.KeyOf(Request);
        if (key is null) return AuthenticateResult.NoResult();
        var check = await verifier.VerifyAsync(key, Context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        if (!check.Valid) return AuthenticateResult.Fail(check.Failure!);
        return AuthenticateResult.Success(new AuthenticationTicket(Caller.Principal(check.KeyId!, check.Tenant!, check.Role!, SchemeName, check.Groups), SchemeName));
    }

    public static string? PresentedKey(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Api-Key", out var header)) return header.Count == 1 ? header[0] : null;
        var auth = (string?)request.Headers.Authorization;
        return auth is not null && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? auth[7..].Trim() : null;
    }
}
