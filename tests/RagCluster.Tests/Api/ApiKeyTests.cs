using System.Text;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Security;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>The API key store (issue 4): hashed at rest, verified in constant time, rotated and revoked at once.</summary>
[Collection("cluster")]
public sealed class ApiKeyTests
{
    [Fact]
    public async Task Keys_verify_rotate_and_revoke_and_only_a_hash_is_stored()
    {
        var dir = Directory.CreateTempSubdirectory("rc-keys");
        // Same ServiceId for both clusters below: grain state is scoped by it.
        var cluster = await RagTestCluster.StartAsync(1, $"sqlite:{Path.Combine(dir.FullName, "k.db")}", serviceId: "keys");
        var client = cluster.Grains; // the test cluster's client: over the wire, so messages are serialised
        var keyId = ApiKeyFormat.NewKeyId();
        var created = await client.GetGrain<IApiKeyGrain>(keyId).Create("acme", Roles.Writer, "ci key");
        Assert.True(ApiKeyFormat.TryParse(created.Secret, out var parsedId, out var secret));
        Assert.Equal(keyId, parsedId);

        var ok = await client.GetGrain<IApiKeyGrain>(keyId).Verify(secret);
        Assert.Equal((true, "acme", "writer"), (ok.Valid, ok.Tenant, ok.Role));
        Assert.False((await client.GetGrain<IApiKeyGrain>(keyId).Verify(secret[..^1] + (secret[^1] == 'A' ? 'B' : 'A'))).Valid);
        Assert.Equal([keyId], await client.GetGrain<ITenantGrain>("acme").KeyIds());
        Assert.Null((await client.GetGrain<IApiKeyGrain>(keyId).GetInfo())!.Secret); // never shown again
        Assert.Null(await client.GetGrain<IApiKeyGrain>(ApiKeyFormat.NewKeyId()).GetInfo());

        // The store holds the hash, never the secret.
        await cluster.DisposeAsync();
        var bytes = await File.ReadAllBytesAsync(Path.Combine(dir.FullName, "k.db"));
        var wal = Path.Combine(dir.FullName, "k.db-wal");
        if (File.Exists(wal)) bytes = [.. bytes, .. await File.ReadAllBytesAsync(wal)];
        var raw = Encoding.Latin1.GetString(bytes);
        Assert.DoesNotContain(secret, raw);
        Assert.Contains(ApiKeyFormat.Hash(secret), raw);

        await using var again = await RagTestCluster.StartAsync(1, $"sqlite:{Path.Combine(dir.FullName, "k.db")}", serviceId: "keys");
        var key = again.Grains.GetGrain<IApiKeyGrain>(keyId);
        Assert.True((await key.Verify(secret)).Valid); // survives restarts
        var rotated = await key.Rotate();
        Assert.True(ApiKeyFormat.TryParse(rotated.Secret, out _, out var newSecret));
        Assert.Equal("wrong secret", (await key.Verify(secret)).Reason);
        Assert.True((await key.Verify(newSecret)).Valid);
        Assert.NotNull((await key.Revoke()).RevokedAt);
        Assert.Equal("key revoked", (await key.Verify(newSecret)).Reason);
        await Assert.ThrowsAsync<ConflictException>(() => key.Rotate());
        await Assert.ThrowsAsync<InvalidRequestException>(() => again.Grains.GetGrain<IApiKeyGrain>(ApiKeyFormat.NewKeyId()).Create("acme", "owner", ""));
        await Assert.ThrowsAsync<InvalidRequestException>(() => again.Grains.GetGrain<IApiKeyGrain>(ApiKeyFormat.NewKeyId()).Create("Bad Tenant", Roles.Reader, ""));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("rck_k0123456789abcdef")]
    [InlineData("rck_K0123456789ABCDEF.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("rck_k0123456789abcdef.short")]
    [InlineData("Bearer rck_k0123456789abcdef.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void Malformed_keys_are_rejected_before_any_lookup(string? key) => Assert.False(ApiKeyFormat.TryParse(key, out _, out _));

    [Fact]
    public void Roles_nest_admin_over_writer_over_reader()
    {
        Assert.True(Roles.Allows(Roles.Admin, Roles.Writer));
        Assert.True(Roles.Allows(Roles.Writer, Roles.Reader));
        Assert.False(Roles.Allows(Roles.Reader, Roles.Writer));
        Assert.False(Roles.Allows(Roles.Writer, Roles.Admin));
        Assert.False(Roles.Allows("owner", Roles.Reader));
        Assert.True(ApiKeyFormat.TryParse(ApiKeyFormat.Compose(ApiKeyFormat.NewKeyId(), ApiKeyFormat.NewSecret()), out _, out _));
    }
}
