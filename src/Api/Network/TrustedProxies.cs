using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using RagCluster.Configuration;

namespace RagCluster.Api.Network;

public static class TrustedProxies
{
    public static NetworkOptions AddRagTrustedProxies(this IServiceCollection services, IConfiguration configuration)
    {
        // Read as the host is built: whether forwarded headers are read at all depends on it.
        var options = configuration.GetValidated<NetworkOptions>("Network");
        services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.ForwardLimit = options.ForwardLimit;
            // ASP.NET Core trusts loopback by default; here only what is configured is trusted.
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var p in options.Proxies) o.KnownProxies.Add(IPAddress.Parse(p));
            foreach (var n in options.Networks) o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(n));
        });
        return options;
    }
}
