namespace RagCluster.Grains.Interfaces.Diagnostics;

/// <summary>Where a call ran and what it carried back; used by health checks and the runtime benchmark.</summary>
[GenerateSerializer, Immutable, Alias("rc.PingReply")]
public sealed record PingReply(string SiloId, byte[] Payload);

/// <summary>
/// Echo grain for probing the cluster: a call on key K runs on K's owner silo, so probing several keys
/// exercises placement, forwarding and the transport end to end.
/// </summary>
[Alias("rc.IPingGrain")]
public interface IPingGrain : IGrainWithStringKey
{
    Task<PingReply> Ping(byte[] payload);
}
