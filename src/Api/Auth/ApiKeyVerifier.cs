using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Auth;

public sealed record KeyCheck(string? KeyId, string? Tenant, string? Role, string? Failure, string[]? Groups = null)
{
    public bool Valid => Failure is null;
}

/// <summary>
/// Checks presented API keys against their key grains and remembers each answer for at most
/// <see cref="AuthOptions.CacheSeconds"/>, so a hot key costs no grain call per request while a revoked or rotated
/// key stops working on every silo within a second. Malformed keys are refused without touching the cluster.
/// Failed checks are charged to the client address and, when the key id exists (a wrong secret), to that key id
/// too: guesses at one key from many addresses run out as surely as guesses at many keys from one address.
/// While a key's grain does not answer (its silo died a moment ago), the last check of that key this silo made stands
/// in (<see cref="RagCluster.Resilience.LastKnown{TKey, TValue}"/>, at most Query:LastKnownForSeconds old).
/// </summary>
public sealed class ApiKeyVerifier(IGrainFactory grains, AuthOptions options, TimeProvider time, Limits.RateLimitOptions limits,
    RagCluster.Resilience.LastKnown<string, ApiKeyCheck> known)
{
    private readonly System.Threading.RateLimiting.PartitionedRateLimiter<string> _failures = Limits.RateLimits.FailedKeyChecks(limits);
    public const string BootstrapKeyId = "bootstrap";
    private const int MaxCached = 10_000;
    private readonly byte[]? _bootstrapHash = string.IsNullOrEmpty(options.BootstrapAdminKey) ? null : Hash(options.BootstrapAdminKey);
    private readonly ConcurrentDictionary<string, (KeyCheck Check, long ExpiresAt)> _cache = new(StringComparer.Ordinal);
    // The hash of the last secret that verified for each key id: while a key id is locked out, its owner (who presents
    // that secret) is still checked; only other secrets are refused unchecked. Bounded like the cache.
    private readonly ConcurrentDictionary<string, byte[]> _lastGood = new(StringComparer.Ordinal);

    public async ValueTask<KeyCheck> VerifyAsync(string presented, string clientAddress)
    {
        // Hashed only where it is compared: a cached key (the hot path) costs no hash unless a bootstrap key is set.
        var presentedHash = _bootstrapHash is null ? null : Hash(presented);
        if (_bootstrapHash is not null && CryptographicOperations.FixedTimeEquals(presentedHash, _bootstrapHash))
            return new KeyCheck(BootstrapKeyId, options.BootstrapTenant, Roles.Operator, null);
        if (!ApiKeyFormat.TryParse(presented, out var keyId, out var secret)) return new KeyCheck(null, null, null, "malformed API key");

        var now = time.GetTimestamp();
        if (_cache.TryGetValue(presented, out var hit) && now < hit.ExpiresAt) return hit.Check;
        // An address whose recent checks kept failing is not allowed to make the cluster look up more keys for now.
        // (Statistics, not a zero-permit acquire: the partitioned token bucket grants those even when empty.)
        if (LockedOut(AddressPartition(clientAddress)))
            return new KeyCheck(keyId, null, null, "too many failed key checks from this address; retry later");
        presentedHash ??= Hash(presented);
        var owner = _lastGood.TryGetValue(keyId, out var good) && CryptographicOperations.FixedTimeEquals(presentedHash, good);
        if (!owner && LockedOut(KeyPartition(keyId)))
            return new KeyCheck(keyId, null, null, "too many failed checks of this key id; retry later");
        var grain = grains.GetGrain<IApiKeyGrain>(keyId);
        var (answer, _) = await known.GetAsync(grain.GetGrainId(), presented, () => grain.Verify(secret));
        if (answer.Valid)
        {
            if (_lastGood.Count >= MaxCached) _lastGood.Clear();
            _lastGood[keyId] = presentedHash;
        }
        else
        {
            _failures.AttemptAcquire(AddressPartition(clientAddress)).Dispose();
            // Only an existing key's id is a partition: unknown ids would let a flood of guesses grow the limiter.
            if (answer.KeyExists) _failures.AttemptAcquire(KeyPartition(keyId)).Dispose();
        }
        var check = answer.Valid ? new KeyCheck(keyId, answer.Tenant, Roles.Upgraded(answer.Role!, answer.RoleSchema, answer.Tenant!, options.BootstrapTenant), null, answer.Groups) : new KeyCheck(keyId, null, null, answer.Reason ?? "invalid key");
        if (options.CacheSeconds > 0)
        {
            if (_cache.Count >= MaxCached) _cache.Clear(); // bounded: a flood of distinct keys cannot grow it
            _cache[presented] = (check, now + (long)(options.CacheSeconds * time.TimestampFrequency));
        }
        return check;
    }

    private static byte[] Hash(string presented) => SHA256.HashData(Encoding.UTF8.GetBytes(presented));

    private bool LockedOut(string partition) => _failures.GetStatistics(partition)?.CurrentAvailablePermits <= 0;
    private static string AddressPartition(string address) => "ip:" + address;
    private static string KeyPartition(string keyId) => "key:" + keyId;
}
