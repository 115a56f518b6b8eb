using Microsoft.AspNetCore.Server.Kestrel.Core;
using RagCluster.Api.Admin;
using RagCluster.Api.Auditing;
using RagCluster.Api.Auth;
using RagCluster.Api.Dashboard;
using RagCluster.Api.Limits;
using RagCluster.Api.Mcp;
using RagCluster.Api.Network;
using RagCluster.Api.OpenApi;
using RagCluster.Api.Web;
using RagCluster.Configuration;
using RagCluster.Hosting.Diagnostics;
using Scalar.AspNetCore;

namespace RagCluster.Api;

/// <summary>What the pipeline needs to know of the settings read while services were added.</summary>
public sealed record RagApiSettings(AuthOptions Auth, NetworkOptions Network);

/// <summary>
/// The HTTP API as a part any silo host can carry: <see cref="AddRagApi"/> adds its services and
/// <see cref="UseRagApi"/> its pipeline. The API process (Program.cs) is one such host; a test can put the same API on a
/// silo of an in-process TestCluster.
/// </summary>
public static class RagApi
{
    public static RagApiSettings AddRagApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddRouting(); // WebApplication adds it by itself; a generic host carrying the API does not
        services.AddProblemDetails();
        services.AddExceptionHandler<GrainExceptionHandler>();
        var auth = services.AddRagAuth(configuration);
        services.AddRagRateLimits(configuration);
        var network = services.AddRagTrustedProxies(configuration);
        services.AddSingleton<AuditTrail>();
        services.AddValidatedOptions<RagCluster.Api.Embeddings.EmbeddingsOptions>(configuration, "Embeddings");
        // Numbers are numbers: a typed contract (and the clients generated from it) has no "integer or string" fields.
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict);
        services.AddRagOpenApi();
        services.AddRagMcp();
        services.AddSingleton<QueryLog>();
        services.AddSingleton<RagCluster.Api.Collections.CollectionExistence>();
        services.AddSingleton<ClusterInspector>();
        services.AddSingleton<DashboardSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<DashboardSampler>());
        services.Configure<KestrelServerOptions>(k =>
        {
            k.Limits.MaxRequestBodySize = RagEndpoints.MaxUploadBytes + 1024 * 1024;
            k.AddServerHeader = false; // do not advertise the server software
        });
        // No request runs longer than this (uploads and streamed answers included); the client gets 504.
        services.AddRequestTimeouts(o => o.DefaultPolicy = new Microsoft.AspNetCore.Http.Timeouts.RequestTimeoutPolicy
        {
            Timeout = TimeSpan.FromSeconds(configuration.GetValue("Api:RequestTimeoutSeconds", 120)),
            TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
        });
        services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(f => f.MultipartBodyLengthLimit = RagEndpoints.MaxUploadBytes);
        return new RagApiSettings(auth, network);
    }

    public static void UseRagApi(this IApplicationBuilder app, RagApiSettings settings)
    {
        app.Use(RagCluster.Api.Timing.ServerTiming.Apply); // first, so its figure counts every later step
        // Then: the client address every later step sees (rate limits, key-check lockouts, audit) is the one a trusted proxy forwarded.
        if (settings.Network.Any) app.UseForwardedHeaders();
        app.Use(SecurityHeaders);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRouting();
        app.Use(BodyLimit.Apply);
        app.UseAuthentication();
        app.UseRateLimiter();
        app.Use(app.ApplicationServices.GetRequiredService<AuditTrail>().Middleware);
        app.UseAuthorization();
        app.UseRequestTimeouts();
        OrleansDashboardSession.UseSiloAddressCheck(app);
        // A scrape sees this silo's activations as of now, not as of the last background sample (up to 2 s old).
        app.UseWhen(http => http.Request.Path == "/metrics", branch => branch.Use(async (http, next) =>
        {
            try { await http.RequestServices.GetRequiredService<ActivationCounts>().ReadAsync(TimeSpan.FromMilliseconds(250)); }
            catch (Exception e) when (e is TimeoutException or OrleansException) { /* the last sample stands */ }
            await next();
        }));
        app.UseWhen(http => http.Request.Path.StartsWithSegments(McpEndpoint.Path), branch => branch.Use(McpEndpoint.RequireReadableJson));
        app.UseEndpoints(endpoints => MapEndpoints(endpoints, settings));
    }

    private static void MapEndpoints(IEndpointRouteBuilder app, RagApiSettings settings)
    {
        app.MapRagEndpoints();
        app.MapRagMcp();
        app.MapAdminEndpoints();
        app.MapDashboardEndpoints();
        OrleansDashboardSession.MapOrleansDashboardPages(app);
        app.MapWebAssets();
        // A fixed path: the templated default answers unknown document names with a plain-text 404, not a problem.
        app.MapOpenApi(ApiDocument.Path).AllowAnonymous();
        // The interactive reference (Scalar, its script served from its package, no CDN), anonymous like the document it reads.
        app.MapScalarApiReference(ApiDocument.ReferencePath, o =>
        {
            o.WithTitle("RagCluster API").WithOpenApiRoutePattern(ApiDocument.Path).DisableDefaultFonts();
            // Inside a self-hosted cluster the page reaches nothing outside it: no AI chat (Scalar's agent), no MCP link, no
            // telemetry, and no developer toolbar (share, SDK generation, deploy). "Try it" starts with the key scheme chosen.
            o.Agent = new ScalarAgentOptions { Disabled = true };
            o.Mcp = new ScalarMcpOptions { Disabled = true };
            o.Telemetry = false;
            o.DotNetFlag = false;
            o.ShowDeveloperTools = DeveloperToolsVisibility.Never;
            o.Authentication = new ScalarAuthenticationOptions { PreferredSecuritySchemes = [ApiDocument.KeyScheme] };
        }).AllowAnonymous();
        // GET only, like every read here (the exporter's own mapping takes any method).
        var metrics = app.MapPrometheusScrapingEndpoint("/metrics").WithMetadata(new Microsoft.AspNetCore.Routing.HttpMethodMetadata(["GET"]));
        if (settings.Auth.AnonymousMetrics) metrics.AllowAnonymous();
        else metrics.RequireAuthorization(AuthSetup.Operator);
    }

    /// <summary>
    /// Security headers on every response, problems included: set as the response starts, because the exception
    /// handler clears headers when it turns an exception into a problem.
    /// </summary>
    private static async Task SecurityHeaders(HttpContext http, Func<Task> next)
    {
        http.Response.OnStarting(() =>
        {
            var h = http.Response.Headers;
            h.XContentTypeOptions = "nosniff";
            h.XFrameOptions = "DENY";
            h["Referrer-Policy"] = "no-referrer";
            // Orleans' dashboard sets inline styles and embeds its icon font as data: (scripts stay 'self'-only).
            // Scalar's reference page passes its configuration in one inline module script and styles itself inline; it
            // shows only the public API description, and still connects to nothing but this origin.
            h.ContentSecurityPolicy = http.Request.Path.StartsWithSegments(OrleansDashboardSession.Path)
                ? "default-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; frame-ancestors 'none'"
                : http.Request.Path.StartsWithSegments(ApiDocument.ReferencePath)
                    ? "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; frame-ancestors 'none'"
                    : "default-src 'self'; frame-ancestors 'none'";
            h["Cross-Origin-Resource-Policy"] = "same-origin";
            return Task.CompletedTask;
        });
        await next();
    }
}
