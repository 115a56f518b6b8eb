using RagCluster.Grains.Interfaces.Diagnostics;

namespace RagCluster.Grains.Diagnostics;

public sealed class PingGrain : Grain, IPingGrain
{
    public Task<PingReply> Ping(byte[] payload) => Task.FromResult(new PingReply(RuntimeIdentity, payload));
}
