using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Persistence;

namespace RagCluster.Grains.Security;

/// <summary>
/// API keys look like "rck_{keyId}.{secret}": the key id names the grain, the 256-bit secret is shown once and
/// stored only as its SHA-256 (a random secret needs no salt or slow hash), compared in constant time.
/// </summary>
public static partial class ApiKeyFormat
{
    public static string NewKeyId() => "k" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public static string NewSecret() => Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Compose(string keyId, string secret) => $"rck_{keyId}.{secret}";

    public static bool TryParse(string? key, out string keyId, out string secret)
    {
        keyId = secret = "";
        if (key is null || key.Length > 200) return false;
        var m = KeyRegex().Match(key);
        if (!m.Success) return false;
        keyId = m.Groups[1].Value;
        secret = m.Groups[2].Value;
        return true;
    }

    /// <summary>The public part alone ("k" + 16 hex), as admins name a key.</summary>
    public static bool IsKeyId(string? keyId) => keyId is not null && KeyIdRegex().IsMatch(keyId);

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [GeneratedRegex("^rck_(k[0-9a-f]{16})\\.([A-Za-z0-9_-]{43})$")]
    private static partial Regex KeyRegex();

    [GeneratedRegex("^k[0-9a-f]{16}$")]
    private static partial Regex KeyIdRegex();
}

[GenerateSerializer, Alias("rc.ApiKeyState")]
public sealed class ApiKeyState
{
    [Id(0)] public string? SecretHash { get; set; }
    [Id(1)] public string Tenant { get; set; } = "";
    [Id(2)] public string Role { get; set; } = "";
    [Id(3)] public string Description { get; set; } = "";
    [Id(4)] public DateTimeOffset CreatedAt { get; set; }
    [Id(5)] public DateTimeOffset? RevokedAt { get; set; }
    /// <summary>0 for keys stored before the operator role existed (see <see cref="Roles.Upgraded"/>).</summary>
    [Id(6)] public int RoleSchema { get; set; }
}

public sealed class ApiKeyGrain([PersistentState("apikey")] IPersistentState<ApiKeyState> stored, IGrainContext context, DeepCopier copier)
    : Grain, IApiKeyGrain
{
    private readonly DurableState<ApiKeyState> _state = new(stored, context, copier);

    public async Task<ApiKeyInfo> Create(string tenant, string role, string description)
    {
        if (_state.RecordExists) throw new ConflictException($"key {this.GetPrimaryKeyString()} already exists");
        if (!Naming.Names.IsName(tenant)) throw new InvalidRequestException("tenant must be " + Naming.Names.NameRule);
        if (!Roles.All.Contains(role)) throw new InvalidRequestException($"role must be one of {string.Join(", ", Roles.All)}");
        if (description.Length > 200) throw new InvalidRequestException("description is limited to 200 characters");
        var secret = ApiKeyFormat.NewSecret();
        await _state.UpdateAsync(s =>
        {
            (s.SecretHash, s.Tenant, s.Role, s.Description, s.CreatedAt, s.RoleSchema) = (ApiKeyFormat.Hash(secret), tenant, role, description, DateTimeOffset.UtcNow, Roles.CurrentSchema);
        });
        await GrainFactory.GetGrain<ITenantGrain>(tenant).AddKey(this.GetPrimaryKeyString());
        return Info(ApiKeyFormat.Compose(this.GetPrimaryKeyString(), secret));
    }

    public Task<ApiKeyCheck> Verify(string secret)
    {
        var s = _state.Current;
        if (!_state.RecordExists || s.SecretHash is null) return Task.FromResult(new ApiKeyCheck(false, null, null, ApiKeyCheck.UnknownKey));
        if (s.RevokedAt is not null) return Task.FromResult(new ApiKeyCheck(false, null, null, ApiKeyCheck.Revoked));
        var match = CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(ApiKeyFormat.Hash(secret)), Encoding.ASCII.GetBytes(s.SecretHash));
        return Task.FromResult(match ? new ApiKeyCheck(true, s.Tenant, s.Role, null, s.RoleSchema) : new ApiKeyCheck(false, null, null, ApiKeyCheck.WrongSecret));
    }

    public async Task<ApiKeyInfo> Rotate()
    {
        RequireLive();
        var secret = ApiKeyFormat.NewSecret();
        await _state.UpdateAsync(s => { s.SecretHash = ApiKeyFormat.Hash(secret); });
        return Info(ApiKeyFormat.Compose(this.GetPrimaryKeyString(), secret));
    }

    public async Task<ApiKeyInfo> Revoke()
    {
        if (!_state.RecordExists) throw new NotFoundException($"no key {this.GetPrimaryKeyString()}");
        await _state.UpdateAsync(s => { s.RevokedAt ??= DateTimeOffset.UtcNow; });
        return Info(null);
    }

    public Task<ApiKeyInfo?> GetInfo() => Task.FromResult(_state.RecordExists ? Info(null) : null);

    private void RequireLive()
    {
        if (!_state.RecordExists) throw new NotFoundException($"no key {this.GetPrimaryKeyString()}");
        if (_state.Current.RevokedAt is not null) throw new ConflictException($"key {this.GetPrimaryKeyString()} is revoked");
    }

    private ApiKeyInfo Info(string? secret)
    {
        var s = _state.Current;
        return new(this.GetPrimaryKeyString(), s.Tenant, s.Role, s.Description, s.CreatedAt, s.RevokedAt, secret, s.RoleSchema);
    }
}

[GenerateSerializer, Alias("rc.TenantState")]
public sealed class TenantState
{
    [Id(0)] public List<string> KeyIds { get; set; } = [];
    [Id(1)] public List<string> Collections { get; set; } = [];
}

public sealed class TenantGrain([PersistentState("tenant")] IPersistentState<TenantState> stored, IGrainContext context, DeepCopier copier)
    : Grain, ITenantGrain
{
    private readonly DurableState<TenantState> _state = new(stored, context, copier);

    public Task AddKey(string keyId) => _state.UpdateAsync(s => AddOnce(s.KeyIds, keyId));

    public Task<string[]> KeyIds() => Task.FromResult(_state.Current.KeyIds.ToArray());

    public Task AddCollection(string collection) => _state.UpdateAsync(s => AddOnce(s.Collections, collection));

    public Task RemoveCollection(string collection) => _state.UpdateAsync(s => s.Collections.Remove(collection));

    public Task<string[]> Collections() => Task.FromResult(_state.Current.Collections.Order(StringComparer.Ordinal).ToArray());

    private static bool AddOnce(List<string> list, string item)
    {
        if (list.Contains(item)) return false;
        list.Add(item);
        return true;
    }
}

[GenerateSerializer, Alias("rc.BootstrapState")]
public sealed class BootstrapState
{
    [Id(0)] public string? KeyId { get; set; }
}

/// <summary>One per cluster: the record that the first (operator) key was issued, so it is printed once and never again.</summary>
public sealed class BootstrapGrain([PersistentState("bootstrap")] IPersistentState<BootstrapState> stored, IGrainContext context, DeepCopier copier)
    : Grain, IBootstrapGrain
{
    private readonly DurableState<BootstrapState> _state = new(stored, context, copier);

    public async Task<ApiKeyInfo?> IssueOnce(string tenant)
    {
        if (_state.Current.KeyId is { } issued)
        {
            // Recorded but never created (a crash in between): nobody saw it, so create it now. Otherwise it was shown.
            var key = GrainFactory.GetGrain<IApiKeyGrain>(issued);
            return await key.GetInfo() is null ? await key.Create(tenant, Roles.Operator, "bootstrap operator key") : null;
        }
        var keyId = ApiKeyFormat.NewKeyId();
        // Recorded before the key exists, so two silos starting together can never both print one.
        await _state.UpdateAsync(s => { s.KeyId = keyId; });
        return await GrainFactory.GetGrain<IApiKeyGrain>(keyId).Create(tenant, Roles.Operator, "bootstrap operator key");
    }
}
