using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using RagCluster.Grains.Security;
using RagCluster.Storage;
using RagCluster.Storage.Schema;
using RagCluster.Storage.Sqlite;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Two admin levels: an operator (the bootstrap key) manages every tenant and the cluster; a tenant admin manages its
/// own tenant's keys, audit, backups and restores, sees nothing of any other tenant (404, as if it did not exist), and
/// never creates, rotates or revokes a key of a higher role than its own.
/// </summary>
public sealed class TenantAdminTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    private async Task<(string KeyId, HttpClient Client)> NewKey(HttpClient creator, string tenant, string role)
    {
        var r = await creator.PostAsJsonAsync("v1/admin/keys", new { tenant, role, description = $"{role} of {tenant}" });
        Assert.True(r.StatusCode == HttpStatusCode.Created, $"creating a {role} key of {tenant}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        var k = await r.Content.ReadFromJsonAsync<JsonElement>();
        return (k.GetProperty("keyId").GetString()!, Client(k.GetProperty("key").GetString()!));
    }

    private HttpClient Client(string key)
    {
        var c = new HttpClient { BaseAddress = api.Http.BaseAddress };
        c.DefaultRequestHeaders.Add("X-Api-Key", key);
        return c;
    }

    private static async Task Expect(HttpStatusCode expected, Task<HttpResponseMessage> call, string what)
    {
        using var r = await call;
        Assert.True(r.StatusCode == expected, $"{what}: expected {(int)expected}, got {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task A_tenant_admin_manages_its_own_tenant_and_sees_nothing_of_another()
    {
        var (acmeAdminId, acme) = await NewKey(api.Http, "acme", "admin");
        var (globexAdminId, globex) = await NewKey(api.Http, "globex", "admin");
        var (globexReaderId, _) = await NewKey(globex, "globex", "reader");

        // Keys: its own tenant's, up to its own role.
        var (acmeWriterId, acmeWriter) = await NewKey(acme, "acme", "writer");
        await NewKey(acme, "acme", "admin");
        await Expect(HttpStatusCode.Forbidden, acme.PostAsJsonAsync("v1/admin/keys", new { tenant = "acme", role = "operator" }), "an admin minting an operator key");
        await Expect(HttpStatusCode.Forbidden, acme.PostAsJsonAsync("v1/admin/keys", new { tenant = "globex", role = "reader" }), "minting a key of another tenant");
        await Expect(HttpStatusCode.Forbidden, acmeWriter.PostAsJsonAsync("v1/admin/keys", new { tenant = "acme", role = "reader" }), "a writer minting a key");
        var own = (await acme.GetFromJsonAsync<JsonElement[]>("v1/admin/keys"))!;
        Assert.Contains(own, k => k.GetProperty("keyId").GetString() == acmeWriterId);
        Assert.All(own, k => Assert.Equal("acme", k.GetProperty("tenant").GetString()));

        // Another tenant's keys and audit read as 404, as if they did not exist.
        await Expect(HttpStatusCode.NotFound, acme.GetAsync("v1/admin/keys?tenant=globex"), "listing another tenant's keys");
        await Expect(HttpStatusCode.NotFound, acme.GetAsync("v1/admin/keys?tenant=default"), "listing the operator's tenant's keys");
        await Expect(HttpStatusCode.NotFound, acme.GetAsync($"v1/admin/keys/{globexReaderId}"), "reading another tenant's key");
        await Expect(HttpStatusCode.NotFound, acme.PostAsync($"v1/admin/keys/{globexReaderId}/rotate", null), "rotating another tenant's key");
        await Expect(HttpStatusCode.NotFound, acme.DeleteAsync($"v1/admin/keys/{globexAdminId}"), "revoking another tenant's key");
        await Expect(HttpStatusCode.NotFound, acme.GetAsync("v1/admin/audit?tenant=globex"), "reading another tenant's audit");
        await Expect(HttpStatusCode.OK, globex.GetAsync($"v1/admin/keys/{globexReaderId}"), "the key is there for its own tenant");

        // Its own audit only: globex's actions are not in it.
        await Expect(HttpStatusCode.OK, globex.PostAsync($"v1/admin/keys/{globexReaderId}/rotate", null), "rotating its own tenant's key");
        var audit = (await acme.GetFromJsonAsync<JsonElement[]>("v1/admin/audit?limit=1000"))!;
        Assert.Contains(audit, e => e.GetProperty("action").GetString() == "POST /v1/admin/keys" && e.GetProperty("keyId").GetString() == acmeAdminId);
        Assert.All(audit, e => Assert.Equal("acme", e.GetProperty("tenant").GetString()));

        // The cluster is the operator's.
        foreach (var path in new[] { "v1/cluster", "v1/cache", "metrics", "v1/dashboard/" })
            await Expect(HttpStatusCode.Forbidden, acme.GetAsync(path), $"a tenant admin reading {path}");
        await Expect(HttpStatusCode.OK, api.Http.GetAsync("v1/cluster"), "the operator reading the cluster");

        // Backup and restore: its own tenant's; the operator's in any tenant.
        await ApiProcess.CreateCollection(acmeWriter, "kb");
        await Expect(HttpStatusCode.Accepted, acmeWriter.PostAsJsonAsync("v1/collections/kb/documents", new { id = "d1", text = "acme's own document" }), "writing");
        await Until(async () => (await acme.GetFromJsonAsync<JsonElement>("v1/collections/kb/documents/d1")).GetProperty("status").GetString() == "indexed", "d1 indexed");
        var backup = await acme.GetByteArrayAsync("v1/collections/kb/backup");
        await Expect(HttpStatusCode.NotFound, globex.GetAsync("v1/collections/kb/backup?tenant=acme"), "another tenant's backup");
        await Expect(HttpStatusCode.NotFound, globex.GetAsync("v1/collections/kb/backup"), "a backup of a name only another tenant has");
        await Expect(HttpStatusCode.NotFound, acme.PostAsync("v1/restore/kb2?tenant=globex", new ByteArrayContent(backup)), "a restore into another tenant");
        await Expect(HttpStatusCode.NotFound, acmeWriter.GetAsync("v1/collections/kb?tenant=globex"), "a writer naming another tenant");
        await Expect(HttpStatusCode.Created, acme.PostAsync("v1/restore/kb2", new ByteArrayContent(backup)), "a restore into its own tenant");
        Assert.Equal(backup.Length > 0, (await api.Http.GetByteArrayAsync("v1/collections/kb/backup?tenant=acme")).Length > 0);
        await Expect(HttpStatusCode.Created, api.Http.PostAsync("v1/restore/kb3?tenant=globex", new ByteArrayContent(backup)), "the operator restoring into globex");
        Assert.Contains("kb3", (await globex.GetFromJsonAsync<string[]>("v1/collections"))!);
        Assert.DoesNotContain("kb3", (await acme.GetFromJsonAsync<string[]>("v1/collections"))!);
        // The download is audited with who took it.
        await Until(async () => (await acme.GetFromJsonAsync<JsonElement[]>("v1/admin/audit?limit=1000"))!
            .Any(e => e.GetProperty("action").GetString() == "GET /v1/collections/{collection}/backup" && e.GetProperty("keyId").GetString() == acmeAdminId), "the backup download audited");
    }

    [Fact]
    public async Task No_key_changes_a_key_of_a_higher_role_even_in_its_own_tenant()
    {
        var (operatorId, _) = await NewKey(api.Http, "default", "operator");
        var (_, defaultAdmin) = await NewKey(api.Http, "default", "admin");
        await Expect(HttpStatusCode.Forbidden, defaultAdmin.PostAsync($"v1/admin/keys/{operatorId}/rotate", null), "an admin rotating an operator key");
        await Expect(HttpStatusCode.Forbidden, defaultAdmin.DeleteAsync($"v1/admin/keys/{operatorId}"), "an admin revoking an operator key");
        await Expect(HttpStatusCode.Forbidden, defaultAdmin.GetAsync("v1/cluster"), "a tenant admin of the operator's tenant reading the cluster");
        var (_, writer) = await NewKey(defaultAdmin, "default", "writer");
        await Expect(HttpStatusCode.Forbidden, writer.GetAsync("v1/admin/keys"), "a writer listing keys");
        await Expect(HttpStatusCode.OK, api.Http.DeleteAsync($"v1/admin/keys/{operatorId}"), "the operator revoking an operator key");
    }

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not within 30 s");
            await Task.Delay(100);
        }
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
