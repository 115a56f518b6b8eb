using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Cli;

// API keys: create, list, groups, rotate, revoke (an operator, or a tenant admin for its own tenant).
public static partial class Commands
{
    public static async Task<int> CreateKey(IRagBackend backend, string tenant, string role, string description, string[] groups, CancellationToken ct)
    {
        var k = await backend.CreateKeyAsync(tenant, role, description, groups, ct);
        Console.WriteLine($"created {k.Role} key {k.KeyId} for tenant '{k.Tenant}'{GroupsText(k)}. The secret is shown once; store it now:");
        Console.WriteLine(k.Secret);
        return 0;
    }

    public static async Task<int> ListKeys(IRagBackend backend, string? tenant, CancellationToken ct)
    {
        foreach (var k in await backend.ListKeysAsync(tenant, ct))
            Console.WriteLine($"{k.KeyId}  {k.Tenant,-16} {k.Role,-7} created {k.CreatedAt:u}{(k.RevokedAt is { } r ? $"  REVOKED {r:u}" : "")}  {k.Description}{GroupsText(k)}");
        return 0;
    }

    public static async Task<int> SetKeyGroups(IRagBackend backend, string keyId, string[] groups, CancellationToken ct)
    {
        var k = await backend.SetKeyGroupsAsync(keyId, groups, ct);
        Console.WriteLine($"{k.KeyId} ({k.Role} of '{k.Tenant}') now reads {(k.Groups.Length == 0 ? "no group's documents" : "the documents of " + string.Join(", ", k.Groups))} in collections with an access field");
        return 0;
    }

    private static string GroupsText(ApiKeyInfo k) => k.Groups.Length == 0 ? "" : $" (groups: {string.Join(", ", k.Groups)})";

    public static async Task<int> RotateKey(IRagBackend backend, string keyId, CancellationToken ct)
    {
        var k = await backend.RotateKeyAsync(keyId, ct);
        Console.WriteLine($"rotated {k.KeyId}; the old secret no longer works. New key (shown once):");
        Console.WriteLine(k.Secret);
        return 0;
    }

    public static async Task<int> RevokeKey(IRagBackend backend, string keyId, CancellationToken ct)
    {
        var k = await backend.RevokeKeyAsync(keyId, ct);
        Console.WriteLine($"revoked {k.KeyId} ({k.Role} of '{k.Tenant}') at {k.RevokedAt:u}");
        return 0;
    }
}
