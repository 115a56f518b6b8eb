using RagCluster.Runtime.Invocation;
using RagCluster.Runtime.Messaging;
using RagCluster.Runtime.Transport;

namespace RagCluster.Runtime.Hosting;

/// <summary>Options of an external client: which silos it may use as gateways.</summary>
public sealed class ClusterClientOptions
{
    /// <summary>Silo endpoints such as http://127.0.0.1:11111; the first reachable one is used.</summary>
    public List<string> Gateways { get; set; } = [];
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);
    public int MaxMessageBytes { get; set; } = 64 * 1024 * 1024;
}

/// <summary>
/// A process outside the cluster that calls grains through a gateway silo, which routes each call to the
/// grain's silo. When the gateway is unreachable the client moves to the next one.
/// </summary>
public sealed class ClusterClient : IGrainFactory, IDisposable
{
    private readonly ClusterClientOptions _options;
    private readonly SiloTransportClient _transport;
    private readonly Sender _sender;
    private int _gateway;
    private long _viewVersion;

    public ClusterClient(ClusterClientOptions options)
    {
        if (options.Gateways.Count == 0) throw new ArgumentException("a cluster client needs at least one gateway address");
        foreach (var g in options.Gateways)
            if (!Uri.TryCreate(g, UriKind.Absolute, out var uri) || uri.Scheme != "http")
                throw new ArgumentException($"gateway '{g}' is not an http:// address of a silo endpoint");
        _options = options;
        _transport = new SiloTransportClient(options.MaxMessageBytes);
        _sender = new Sender(this);
    }

    public string CurrentGateway => _options.Gateways[_gateway % _options.Gateways.Count].TrimEnd('/');

    public TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey =>
        GrainProxy.Create<TGrainInterface>(_sender, key);

    public void Dispose() => _transport.Dispose();

    private sealed class Sender(ClusterClient client) : IGrainCallSender
    {
        public Task<object?> SendAsync(GrainId target, GrainMethod method, object?[]? args) =>
            CallRetryLoop.CallAsync(target, method, args, client._options.CallTimeout,
                async frame =>
                {
                    var response = await client._transport.SendAsync(client.CurrentGateway, frame, client._viewVersion).ConfigureAwait(false);
                    if (response.ViewVersion > Interlocked.Read(ref client._viewVersion)) Interlocked.Exchange(ref client._viewVersion, response.ViewVersion);
                    return response;
                },
                (response, _) =>
                {
                    // Unreachable gateway (or one that is leaving): try the next one.
                    if (response.Status == ResponseStatus.Unavailable) Interlocked.Increment(ref client._gateway);
                    return Task.CompletedTask;
                },
                () => Interlocked.Read(ref client._viewVersion));
    }
}
