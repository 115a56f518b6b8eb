using System.Collections.Frozen;
using System.Reflection;

namespace RagCluster.Api.Web;

/// <summary>
/// The web UI (/) and the dashboard (/dashboard): static files compiled into this assembly, no CDN and no inline
/// script (the Content-Security-Policy allows only 'self'). Pages are anonymous; the data they show needs a key.
/// </summary>
public static class WebAssets
{
    private static readonly FrozenDictionary<string, (byte[] Bytes, string ContentType)> Files = Load();

    private static FrozenDictionary<string, (byte[], string)> Load()
    {
        var assembly = Assembly.GetExecutingAssembly();
        const string prefix = "RagCluster.Api.Web.";
        return assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToFrozenDictionary(
            n => n[prefix.Length..],
            n =>
            {
                using var s = assembly.GetManifestResourceStream(n)!;
                using var ms = new MemoryStream();
                s.CopyTo(ms);
                var type = Path.GetExtension(n) switch
                {
                    ".html" => "text/html; charset=utf-8", ".js" => "text/javascript; charset=utf-8", ".css" => "text/css; charset=utf-8", ".svg" => "image/svg+xml", _ => "application/octet-stream",
                };
                return (ms.ToArray(), type);
            });
    }

    public static void MapWebAssets(this IEndpointRouteBuilder app)
    {
        // Pages, not API: left out of the OpenAPI document.
        app.MapGet("/", (HttpContext http) => Serve(http, "index.html")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/dashboard", (HttpContext http) => Serve(http, "dashboard.html")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/ui/{file}", (string file, HttpContext http) => Serve(http, file)).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/favicon.ico", (HttpContext http) => Serve(http, "favicon.svg")).AllowAnonymous().ExcludeFromDescription();
    }

    private static IResult Serve(HttpContext http, string name)
    {
        if (!Files.TryGetValue(name, out var f)) return RagEndpoints.Problem(404, "Not found", $"no file '{name}'");
        http.Response.Headers.CacheControl = "no-cache";
        return Results.Bytes(f.Bytes, f.ContentType);
    }
}
