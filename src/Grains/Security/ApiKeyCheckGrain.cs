using Orleans.Concurrency;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Resilience;

namespace RagCluster.Grains.Security;

/// <summary>Key checks with this silo's last answers standing in (<see cref="IApiKeyCheckGrain"/>, <see cref="LastKnown{TKey, TValue}"/>).</summary>
[Reentrant, StatelessWorker(1)]
public sealed class ApiKeyCheckGrain(LastKnown<string, ApiKeyCheck> known) : Grain, IApiKeyCheckGrain
{
    public async Task<ApiKeyCheck> Verify(string keyId, string secret)
    {
        var grain = GrainFactory.GetGrain<IApiKeyGrain>(keyId);
        // Remembered by the key presented (id and secret), never by the id alone: a wrong secret must not reuse a right one's answer.
        var (answer, _) = await known.GetAsync(grain.GetGrainId(), ApiKeyFormat.Compose(keyId, secret), () => grain.Verify(secret));
        return answer;
    }
}
