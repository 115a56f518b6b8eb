using RagCluster.Grains.Interfaces;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;

namespace RagCluster.Grains.Diagnostics;

public sealed class PingGrain : Grain, IPingGrain
{
    public Task<PingReply> Ping(byte[] payload) => Task.FromResult(new PingReply(RuntimeIdentity, payload));
}
