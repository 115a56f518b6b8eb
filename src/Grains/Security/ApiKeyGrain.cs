using System.Security.Cryptography;
using System.Text;
using Orleans.Serialization;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Persistence;

namespace RagCluster.Grains.Security;

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
    [Id(7)] public string[]? Groups { get; set; }
}

public sealed class ApiKeyGrain([PersistentState("apikey")] IPersistentState<ApiKeyState> stored, IGrainContext context, DeepCopier copier)
    : Grain, IApiKeyGrain
{
    private readonly DurableState<ApiKeyState> _state = new(stored, context, copier);

    public async Task<ApiKeyInfo> Create(string tenant, string role, string description, string[]? groups = null)
    {
        if (_state.RecordExists) throw new ConflictException($"key {this.GetPrimaryKeyString()} already exists");
        if (!Interfaces.Naming.Names.IsName(tenant)) throw new InvalidRequestException("tenant must be " + Interfaces.Naming.Names.NameRule);
        if (!Roles.All.Contains(role)) throw new InvalidRequestException($"role must be one of {string.Join(", ", Roles.All)}");
        if (description.Length > 200) throw new InvalidRequestException("description is limited to 200 characters");
        if (ReadAccess.GroupsProblem(groups) is { } badGroups) throw new InvalidRequestException(badGroups);
        var secret = ApiKeyFormat.NewSecret();
        await _state.UpdateAsync(s =>
        {
            (s.SecretHash, s.Tenant, s.Role, s.Description, s.CreatedAt, s.RoleSchema) = (ApiKeyFormat.Hash(secret), tenant, role, description, DateTimeOffset.UtcNow, Roles.CurrentSchema);
            s.Groups = ReadAccess.Of(groups ?? []).Groups;
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
        return Task.FromResult(match ? new ApiKeyCheck(true, s.Tenant, s.Role, null, s.RoleSchema) { Groups = s.Groups ?? [] } : new ApiKeyCheck(false, null, null, ApiKeyCheck.WrongSecret));
    }

    public async Task<ApiKeyInfo> Rotate()
    {
        RequireLive();
        var secret = ApiKeyFormat.NewSecret();
        await _state.UpdateAsync(s => { s.SecretHash = ApiKeyFormat.Hash(secret); });
        return Info(ApiKeyFormat.Compose(this.GetPrimaryKeyString(), secret));
    }

    public async Task<ApiKeyInfo> SetGroups(string[] groups)
    {
        RequireLive();
        if (ReadAccess.GroupsProblem(groups) is { } badGroups) throw new InvalidRequestException(badGroups);
        await _state.UpdateAsync(s => { s.Groups = ReadAccess.Of(groups).Groups; });
        return Info(null);
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
        return new(this.GetPrimaryKeyString(), s.Tenant, s.Role, s.Description, s.CreatedAt, s.RevokedAt, secret, s.RoleSchema) { Groups = s.Groups ?? [] };
    }
}
