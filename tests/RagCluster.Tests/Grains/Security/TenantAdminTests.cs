using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using RagCluster.Client;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Security;
using RagCluster.Storage;
using RagCluster.Storage.Schema;
using RagCluster.Storage.Sqlite;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Two admin levels: an operator (the bootstrap key) manages every tenant and the cluster; a tenant admin manages its
/// own tenant's keys, audit, backups and restores, sees nothing of any other tenant (404, as if it did not exist), and
/// never creates, rotates or revokes a key of a higher role than its own.
/// </summary>
public sealed class TenantAdminTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    /// <summary>A new key, and the client that sends it; <c>Raw</c> sends it too, for what the client has no call for
    /// (a collection of another tenant by ?tenant=, the dashboard, /metrics).</summary>
    private sealed record Caller(string KeyId, RagClusterClient Client, HttpClient Raw);

    private async Task<Caller> NewKey(RagClusterClient creator, string tenant, string role)
    {
        var k = await creator.CreateKeyAsync(new(role) { Tenant = tenant, Description = $"{role} of {tenant}" });
        var raw = new HttpClient { BaseAddress = api.Http.BaseAddress };
        raw.DefaultRequestHeaders.Add("X-Api-Key", k.Key);
        return new Caller(k.KeyId, new RagClusterClient(api.Http.BaseAddress!, k.Key), raw);
    }

    private static async Task Expect(HttpStatusCode expected, Func<Task> call, string what)
    {
        var refused = await Assert.ThrowsAsync<RagClusterException>(call);
        Assert.True(refused.StatusCode == expected, $"{what}: expected {(int)expected}, got {(int)refused.StatusCode} {refused.Message}");
    }

    private static async Task Expect(HttpStatusCode expected, Task<HttpResponseMessage> call, string what)
    {
        using var r = await call;
        Assert.True(r.StatusCode == expected, $"{what}: expected {(int)expected}, got {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task A_tenant_admin_manages_its_own_tenant_and_sees_nothing_of_another()
    {
        var (acmeAdminId, acme, acmeRaw) = await NewKey(api.Client, "acme", "admin");
        var (globexAdminId, globex, globexRaw) = await NewKey(api.Client, "globex", "admin");
        var globexReaderId = (await NewKey(globex, "globex", "reader")).KeyId;

        // Keys: its own tenant's, up to its own role.
        var (acmeWriterId, acmeWriter, acmeWriterRaw) = await NewKey(acme, "acme", "writer");
        await NewKey(acme, "acme", "admin");
        await Expect(HttpStatusCode.Forbidden, () => acme.CreateKeyAsync(new("operator") { Tenant = "acme" }), "an admin minting an operator key");
        await Expect(HttpStatusCode.Forbidden, () => acme.CreateKeyAsync(new("reader") { Tenant = "globex" }), "minting a key of another tenant");
        await Expect(HttpStatusCode.Forbidden, () => acmeWriter.CreateKeyAsync(new("reader") { Tenant = "acme" }), "a writer minting a key");
        var own = await acme.ListKeysAsync();
        Assert.Contains(own, k => k.KeyId == acmeWriterId);
        Assert.All(own, k => Assert.Equal("acme", k.Tenant));

        // Another tenant's keys and audit read as 404, as if they did not exist.
        await Expect(HttpStatusCode.NotFound, () => acme.ListKeysAsync("globex"), "listing another tenant's keys");
        await Expect(HttpStatusCode.NotFound, () => acme.ListKeysAsync("default"), "listing the operator's tenant's keys");
        await Expect(HttpStatusCode.NotFound, () => acme.GetKeyAsync(globexReaderId), "reading another tenant's key");
        await Expect(HttpStatusCode.NotFound, () => acme.RotateKeyAsync(globexReaderId), "rotating another tenant's key");
        await Expect(HttpStatusCode.NotFound, () => acme.RevokeKeyAsync(globexAdminId), "revoking another tenant's key");
        await Expect(HttpStatusCode.NotFound, () => acme.ReadAuditAsync(tenant: "globex"), "reading another tenant's audit");
        Assert.Equal(globexReaderId, (await globex.GetKeyAsync(globexReaderId)).KeyId); // the key is there for its own tenant

        // Its own audit only: globex's actions are not in it.
        await globex.RotateKeyAsync(globexReaderId);
        var audit = await acme.ReadAuditAsync(limit: 1000);
        Assert.Contains(audit, e => e.Action == "POST /v1/admin/keys" && e.KeyId == acmeAdminId);
        Assert.All(audit, e => Assert.Equal("acme", e.Tenant));

        // The cluster is the operator's.
        await Expect(HttpStatusCode.Forbidden, () => acme.GetClusterAsync(), "a tenant admin reading the cluster");
        await Expect(HttpStatusCode.Forbidden, () => acme.GetCacheStatsAsync(), "a tenant admin reading the cache");
        foreach (var path in new[] { "metrics", "v1/dashboard/" })
            await Expect(HttpStatusCode.Forbidden, acmeRaw.GetAsync(path), $"a tenant admin reading {path}");
        Assert.NotEmpty((await api.Client.GetClusterAsync()).Members); // the operator reads it

        // Backup and restore: its own tenant's; the operator's in any tenant.
        await acmeWriter.EnsureCollectionAsync(new("kb"));
        await acmeWriter.IngestAsync("kb", new("d1") { Text = "acme's own document" });
        Assert.Equal("indexed", (await acme.SettledAsync("kb", ["d1"]))["d1"].Status);
        using var archive = new MemoryStream();
        await acme.BackupAsync("kb", archive);
        var backup = archive.ToArray();
        await Expect(HttpStatusCode.NotFound, globexRaw.GetAsync("v1/collections/kb/backup?tenant=acme"), "another tenant's backup");
        await Expect(HttpStatusCode.NotFound, () => globex.BackupAsync("kb", Stream.Null), "a backup of a name only another tenant has");
        await Expect(HttpStatusCode.NotFound, acmeRaw.PostAsync("v1/restore/kb2?tenant=globex", new ByteArrayContent(backup)), "a restore into another tenant");
        await Expect(HttpStatusCode.NotFound, acmeWriterRaw.GetAsync("v1/collections/kb?tenant=globex"), "a writer naming another tenant");
        Assert.Equal("kb2", (await acme.RestoreAsync("kb2", new MemoryStream(backup))).Collection); // into its own tenant
        Assert.NotEmpty(await api.Http.GetByteArrayAsync("v1/collections/kb/backup?tenant=acme"));
        await Expect(HttpStatusCode.Created, api.Http.PostAsync("v1/restore/kb3?tenant=globex", new ByteArrayContent(backup)), "the operator restoring into globex");
        Assert.Contains("kb3", await globex.ListCollectionsAsync());
        Assert.DoesNotContain("kb3", await acme.ListCollectionsAsync());
        // The download is audited with who took it.
        await Poll.UntilAsync(async () => (await acme.ReadAuditAsync(limit: 1000))
            .Any(e => e.Action == "GET /v1/collections/{collection}/backup" && e.KeyId == acmeAdminId));
    }

    [Fact]
    public async Task No_key_changes_a_key_of_a_higher_role_even_in_its_own_tenant()
    {
        var operatorId = (await NewKey(api.Client, "default", "operator")).KeyId;
        var defaultAdmin = (await NewKey(api.Client, "default", "admin")).Client;
        await Expect(HttpStatusCode.Forbidden, () => defaultAdmin.RotateKeyAsync(operatorId), "an admin rotating an operator key");
        await Expect(HttpStatusCode.Forbidden, () => defaultAdmin.RevokeKeyAsync(operatorId), "an admin revoking an operator key");
        await Expect(HttpStatusCode.Forbidden, () => defaultAdmin.GetClusterAsync(), "a tenant admin of the operator's tenant reading the cluster");
        var writer = (await NewKey(defaultAdmin, "default", "writer")).Client;
        await Expect(HttpStatusCode.Forbidden, () => writer.ListKeysAsync(), "a writer listing keys");
        Assert.NotNull((await api.Client.RevokeKeyAsync(operatorId)).RevokedAt); // the operator revokes it
    }
}

/// <summary>An API started on a store holding keys as the version before two admin levels wrote them (no role schema).</summary>
public sealed class LegacyKeysApiProcess : ApiProcess
{
    public string OperatorTenantKey { get; private set; } = "";
    public string AcmeKey { get; private set; } = "";

    protected override async Task PrepareStoreAsync()
    {
        var store = StoreLocation.Parse($"sqlite:{StoreFile}");
        await DatabaseSchema.ApplyAsync(store);
        var services = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(ApiKeyState).Assembly)).BuildServiceProvider();
        var storage = new GroupCommitGrainStorage(store, ClusterId, new OrleansGrainStorageSerializer(services.GetRequiredService<Serializer>()),
            services.GetRequiredService<IActivatorProvider>());
        OperatorTenantKey = await LegacyAdminKey(storage, "default");
        AcmeKey = await LegacyAdminKey(storage, "acme");
        SqliteConnection.ClearAllPools();
    }

    /// <summary>An "admin" key as the earlier version stored it: RoleSchema absent (0), and listed by its tenant.</summary>
    private static async Task<string> LegacyAdminKey(IGrainStorage storage, string tenant)
    {
        var keyId = ApiKeyFormat.NewKeyId();
        var secret = ApiKeyFormat.NewSecret();
        var key = new ApiKeyState { SecretHash = ApiKeyFormat.Hash(secret), Tenant = tenant, Role = "admin", Description = "made before operators", CreatedAt = DateTimeOffset.UtcNow };
        await storage.WriteStateAsync("apikey", GrainId.Create("apikey", keyId), new GrainState<ApiKeyState>(key));
        await storage.WriteStateAsync("tenant", GrainId.Create("tenant", tenant), new GrainState<TenantState>(new TenantState { KeyIds = [keyId] }));
        return ApiKeyFormat.Compose(keyId, secret);
    }
}

/// <summary>
/// Upgrade: "admin" keys stored before the operator role existed keep working. One of the operator's tenant
/// (Auth:BootstrapTenant) is an operator; one of any other tenant is that tenant's admin.
/// </summary>
public sealed class LegacyKeyTests(LegacyKeysApiProcess api) : IClassFixture<LegacyKeysApiProcess>
{
    [Fact]
    public async Task Admin_keys_of_an_earlier_version_become_operator_in_the_operators_tenant_and_tenant_admin_elsewhere()
    {
        using var old = new HttpClient { BaseAddress = api.Http.BaseAddress };
        old.DefaultRequestHeaders.Add("X-Api-Key", api.OperatorTenantKey);
        using var acme = new HttpClient { BaseAddress = api.Http.BaseAddress };
        acme.DefaultRequestHeaders.Add("X-Api-Key", api.AcmeKey);

        Assert.Equal(HttpStatusCode.OK, (await old.GetAsync("v1/cluster")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await old.GetAsync("v1/admin/keys?tenant=acme")).StatusCode);
        var listed = (await old.GetFromJsonAsync<JsonElement[]>("v1/admin/keys?tenant=default"))!;
        Assert.Equal("operator", Assert.Single(listed).GetProperty("role").GetString());

        Assert.Equal(HttpStatusCode.Forbidden, (await acme.GetAsync("v1/cluster")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await acme.GetAsync("v1/admin/keys?tenant=default")).StatusCode);
        var own = (await acme.GetFromJsonAsync<JsonElement[]>("v1/admin/keys"))!;
        Assert.Equal("admin", Assert.Single(own).GetProperty("role").GetString());
        Assert.Equal(HttpStatusCode.Created, (await acme.PostAsJsonAsync("v1/admin/keys", new { role = "writer" })).StatusCode);
    }
}

/// <summary>An API behind a proxy at 127.0.0.1 (the test itself): its X-Forwarded-For is believed.</summary>
public sealed class ProxiedApiProcess : ApiProcess
{
    protected override string[] ExtraArgs => ["--Network:TrustedProxies", "127.0.0.1"];
}

/// <summary>
/// The client address that audit entries, rate limits and key-check lockouts are filed under: the one a trusted proxy
/// forwarded, and never one a caller names itself.
/// </summary>
public sealed class ClientAddressTests(ProxiedApiProcess proxied, ApiProcess direct) : IClassFixture<ProxiedApiProcess>, IClassFixture<ApiProcess>
{
    /// <summary>
    /// Writes to a collection nobody has, with <paramref name="forwardedFor"/> sent along (refused writes are audited
    /// too); returns the address the write's audit entry names, found by the collection's unique name.
    /// </summary>
    private static async Task<string?> AuditedAddress(ApiProcess api, string forwardedFor)
    {
        var target = $"/v1/collections/addr-{Guid.NewGuid():N}/documents";
        using (var request = new HttpRequestMessage(HttpMethod.Post, target.TrimStart('/')) { Content = JsonContent.Create(new { id = "d", text = "t" }) })
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
            using var r = await api.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var entries = (await api.Http.GetFromJsonAsync<JsonElement[]>("v1/admin/audit?limit=100"))!;
            var mine = entries.Where(e => e.GetProperty("target").GetString() == target).ToList();
            if (mine.Count > 0) return Assert.Single(mine).GetProperty("remoteAddress").GetString();
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the write was not audited within 10 s");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task X_forwarded_for_is_believed_from_a_trusted_proxy_only()
    {
        Assert.Equal("203.0.113.7", await AuditedAddress(proxied, "203.0.113.7"));
        Assert.Equal("127.0.0.1", await AuditedAddress(direct, "203.0.113.8"));
    }
}
