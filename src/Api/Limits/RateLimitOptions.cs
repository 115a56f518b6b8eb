using RagCluster.Configuration;

namespace RagCluster.Api.Limits;

/// <summary>The "RateLimit" section: a token bucket per API key (per API silo), and a smaller one per address for callers without a key.</summary>
public sealed class RateLimitOptions : IValidatedOptions
{
    public int PermitsPerSecond { get; set; } = 50;
    public int Burst { get; set; } = 100;
    public int AnonymousPermitsPerSecond { get; set; } = 10;
    public int AnonymousBurst { get; set; } = 20;
    /// <summary>Key checks that fail (unknown id, wrong secret) per client address: past it, keys are refused unchecked.</summary>
    public int FailedKeyChecksPerSecond { get; set; } = 10;
    public int FailedKeyChecksBurst { get; set; } = 50;

    public void Validate()
    {
        if (PermitsPerSecond < 1 || Burst < 1 || AnonymousPermitsPerSecond < 1 || AnonymousBurst < 1 || FailedKeyChecksPerSecond < 1 || FailedKeyChecksBurst < 1)
            throw new ArgumentException("RateLimit permits and bursts must be at least 1");
    }
}
