using System.Net;
using RagCluster.Configuration;

namespace RagCluster.Api.Network;

/// <summary>
/// The "Network" section: which proxies (an ingress, a load balancer) may say who the client is. Their
/// X-Forwarded-For is believed, through ASP.NET Core's forwarded-headers middleware; nobody else's is, so a caller
/// cannot pick the address its rate limit, key-check lockout and audit entries are filed under.
/// </summary>
public sealed class NetworkOptions : IValidatedOptions
{
    /// <summary>Proxy addresses whose X-Forwarded-For is believed, comma-separated, e.g. "10.0.0.5,10.0.0.6".</summary>
    public string TrustedProxies { get; set; } = "";
    /// <summary>Proxy networks in CIDR form whose X-Forwarded-For is believed, comma-separated, e.g. "10.42.0.0/16" (a cluster's pod network).</summary>
    public string TrustedNetworks { get; set; } = "";
    /// <summary>How many proxies in a row are believed, counted from this server (X-Forwarded-For's entries from the right).</summary>
    public int ForwardLimit { get; set; } = 1;

    public IEnumerable<string> Proxies => Split(TrustedProxies);
    public IEnumerable<string> Networks => Split(TrustedNetworks);
    public bool Any => Proxies.Any() || Networks.Any();

    private static IEnumerable<string> Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public void Validate()
    {
        foreach (var p in Proxies)
            if (!IPAddress.TryParse(p, out _)) throw new ArgumentException($"Network:TrustedProxies: '{p}' is not an IP address");
        foreach (var n in Networks)
            if (!System.Net.IPNetwork.TryParse(n, out _)) throw new ArgumentException($"Network:TrustedNetworks: '{n}' is not a network in CIDR form (e.g. 10.42.0.0/16)");
        if (ForwardLimit is < 1 or > 10) throw new ArgumentException("Network:ForwardLimit must be 1..10");
    }
}
