using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.IdentityModel.Tokens;
using RagCluster.Configuration;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Auth;

/// <summary>
/// Authentication (API keys, optionally JWT) and the four role policies. Every endpoint must name its policy
/// or be marked anonymous; one that names neither falls back to operator-only, so forgetting costs access, not security.
/// </summary>
public static class AuthSetup
{
    public const string Reader = Roles.Reader, Writer = Roles.Writer, Admin = Roles.Admin, Operator = Roles.Operator;
    private const string Selector = "ApiKeyOrJwt";

    public static AuthOptions AddRagAuth(this IServiceCollection services, IConfiguration configuration)
    {
        // Read as the host is built: which sign-in schemes exist depends on it.
        var options = configuration.GetValidated<AuthOptions>("Auth");
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ApiKeyVerifier>();
        services.AddSingleton<RagCluster.Api.Dashboard.OrleansDashboardSession>();

        var auth = services.AddAuthentication(Selector)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddPolicyScheme(Selector, null, o => o.ForwardDefaultSelector = http =>
                options.Jwt.Enabled && LooksLikeJwt(http.Request) ? JwtBearerDefaults.AuthenticationScheme : ApiKeyAuthenticationHandler.SchemeName);
        if (options.Jwt.Enabled) auth.AddJwtBearer(o => ConfigureJwt(o, options.Jwt));

        services.AddAuthorizationBuilder()
            .AddPolicy(Reader, p => RequireRole(p, Reader))
            .AddPolicy(Writer, p => RequireRole(p, Writer))
            .AddPolicy(Admin, p => RequireRole(p, Admin))
            .AddPolicy(Operator, p => RequireRole(p, Operator))
            .SetFallbackPolicy(RequireRole(new AuthorizationPolicyBuilder(), Operator).Build());
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();
        return options;
    }

    private static AuthorizationPolicyBuilder RequireRole(AuthorizationPolicyBuilder p, string role) =>
        p.RequireAuthenticatedUser().RequireAssertion(c => c.User.Role() is { } held && Roles.Allows(held, role));

    private static bool LooksLikeJwt(HttpRequest request)
    {
        if (request.Headers.ContainsKey("X-Api-Key")) return false;
        var auth = (string?)request.Headers.Authorization;
        return auth is not null && auth.StartsWith("Bearer eyJ", StringComparison.OrdinalIgnoreCase) && auth.Count(c => c == '.') == 2;
    }

    private static void ConfigureJwt(JwtBearerOptions o, JwtOptions jwt)
    {
        o.MapInboundClaims = false;
        SecurityKey key;
        string algorithm;
        if (!string.IsNullOrEmpty(jwt.PublicKeyPem))
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(jwt.PublicKeyPem);
            key = new RsaSecurityKey(rsa);
            algorithm = SecurityAlgorithms.RsaSha256;
        }
        else
        {
            key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(jwt.SigningKey!));
            algorithm = SecurityAlgorithms.HmacSha256;
        }
        o.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = jwt.Issuer, ValidAudience = jwt.Audience, IssuerSigningKey = key, ValidAlgorithms = [algorithm],
            ValidateIssuer = true, ValidateAudience = true, ValidateLifetime = true, RequireExpirationTime = true, ClockSkew = TimeSpan.FromSeconds(30),
        };
        o.Events = new JwtBearerEvents
        {
            // A token is only as good as the tenant and role it names; the principal is rebuilt on our claim names.
            OnTokenValidated = c =>
            {
                var tenant = c.Principal?.FindFirst(jwt.TenantClaim)?.Value;
                var role = c.Principal?.FindFirst(jwt.RoleClaim)?.Value;
                var subject = c.Principal?.FindFirst("sub")?.Value ?? "unknown";
                // A JSON array claim arrives as the claim repeated, one value each.
                var groups = c.Principal?.FindAll(jwt.GroupsClaim).Select(g => g.Value).ToArray() ?? [];
                if (tenant is null || !Grains.Interfaces.Naming.Names.IsName(tenant) || role is null || !Roles.All.Contains(role))
                    c.Fail($"the token needs a valid '{jwt.TenantClaim}' and '{jwt.RoleClaim}' ({string.Join("|", Roles.All)}) claim");
                else if (ReadAccess.GroupsProblem(groups, $"the token's '{jwt.GroupsClaim}' claim") is { } badGroups)
                    c.Fail(badGroups);
                else
                    c.Principal = Caller.Principal("jwt:" + subject, tenant, role, JwtBearerDefaults.AuthenticationScheme, groups);
                return Task.CompletedTask;
            },
        };
    }
}

/// <summary>401 and 403 as RFC 7807 problems. 401 says why the key was refused (never whether a collection exists).</summary>
public sealed class ProblemAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext http, AuthorizationPolicy policy, PolicyAuthorizationResult result)
    {
        if (result.Challenged)
        {
            var auth = await http.AuthenticateAsync();
            var detail = auth.Failure?.Message ?? "send an API key as 'X-Api-Key: KEY' or 'Authorization: Bearer KEY'";
            http.Response.Headers.WWWAuthenticate = "ApiKey, Bearer";
            await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: detail).ExecuteAsync(http);
            return;
        }
        if (result.Forbidden)
        {
            await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                detail: $"role '{http.User.Role()}' may not do this").ExecuteAsync(http);
            return;
        }
        await _default.HandleAsync(next, http, policy, result);
    }
}
