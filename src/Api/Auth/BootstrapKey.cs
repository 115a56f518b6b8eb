using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Auth;

/// <summary>
/// Without a configured bootstrap key, the first API silo of a new cluster issues an operator key and prints it once;
/// every later start (any silo) prints nothing. A lost key is replaced by setting Auth:BootstrapAdminKey.
/// </summary>
public static class BootstrapKey
{
    public static async Task AnnounceAsync(IServiceProvider services, AuthOptions options)
    {
        if (!string.IsNullOrEmpty(options.BootstrapAdminKey)) return;
        var issued = await services.GetRequiredService<IGrainFactory>().GetGrain<IBootstrapGrain>("bootstrap").IssueOnce(options.BootstrapTenant);
        if (issued is null) return;
        Console.WriteLine($"Bootstrap operator key for tenant '{issued.Tenant}' (shown once; store it now): {issued.Secret}");
    }
}
