using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// The auth matrix, table-driven over the endpoint list the server reports: the test's table must match it exactly,
/// so a new endpoint fails here until it is classified, and every classified endpoint is then probed with no key,
/// a malformed key, a revoked key, a rotated-away secret, too weak a role, and another tenant's key.
/// </summary>
public sealed class AuthTests(ApiProcess api) : IClassFixture<ApiProcess>, IDisposable
{
    // No default key: each request carries exactly the key under test.
    private readonly HttpClient _raw = new() { BaseAddress = api.Http.BaseAddress };

    public void Dispose() => _raw.Dispose();

    // (method, route) -> the access it must declare. Anonymous is only for probes.
    private static readonly Dictionary<(string, string), string> Expected = new()
    {
        [("GET", "/health/live")] = "anonymous",
        [("GET", "/health/ready")] = "anonymous",
        [("GET", "/")] = "anonymous",
        [("GET", "/dashboard")] = "anonymous",
        [("GET", "/ui/{file}")] = "anonymous",
        [("GET", "/favicon.ico")] = "anonymous",
        [("GET", "/openapi/v1.json")] = "anonymous",
        // The interactive reference (Scalar.AspNetCore) over that document: its page and its own assets.
        [("GET", "/docs/api/{documentName?}")] = "anonymous",
        [("GET", "/docs/api/scalar.js")] = "anonymous",
        [("GET", "/docs/api/scalar.aspnetcore.js")] = "anonymous",
        [("GET", "/docs/api/favicon.svg")] = "anonymous",
        [("GET", "/v1/dashboard/")] = "operator",
        [("GET", "/v1/dashboard/traces/{traceId}")] = "operator",
        [("GET", "/metrics")] = "operator",
        [("GET", "/v1/cluster")] = "operator",
        [("GET", "/v1/cluster/ping/{key}")] = "operator",
        [("GET", "/v1/cache")] = "operator",
        [("GET", "/v1/embedding")] = "reader",
        [("GET", "/v1/collections")] = "reader",
        [("POST", "/v1/collections")] = "writer",
        [("GET", "/v1/aliases/")] = "reader",
        [("GET", "/v1/aliases/{alias}")] = "reader",
        [("PUT", "/v1/aliases/{alias}")] = "writer",
        [("DELETE", "/v1/aliases/{alias}")] = "writer",
        [("GET", "/v1/collections/{collection}/")] = "reader",
        [("PUT", "/v1/collections/{collection}/")] = "writer",
        [("DELETE", "/v1/collections/{collection}/")] = "writer",
        [("POST", "/v1/collections/{collection}/documents")] = "writer",
        [("GET", "/v1/collections/{collection}/documents/{id}")] = "reader",
        [("DELETE", "/v1/collections/{collection}/documents/{id}")] = "writer",
        [("PATCH", "/v1/collections/{collection}/documents/{id}")] = "writer",
        [("PATCH", "/v1/collections/{collection}/documents")] = "writer",
        [("POST", "/v1/collections/{collection}/search")] = "reader",
        [("POST", "/v1/collections/{collection}/ask")] = "reader",
        [("GET", "/v1/collections/{collection}/conversations/{id}")] = "reader",
        [("DELETE", "/v1/collections/{collection}/conversations/{id}")] = "reader",
        [("GET", "/v1/collections/{collection}/plans")] = "reader",
        [("GET", "/v1/collections/{collection}/shards")] = "reader",
        [("GET", "/v1/collections/{collection}/backup")] = "admin",
        [("POST", "/v1/restore/{collection}")] = "admin",
        [("POST", "/v1/admin/keys")] = "admin",
        [("GET", "/v1/admin/keys")] = "admin",
        [("GET", "/v1/admin/keys/{keyId}")] = "admin",
        [("PATCH", "/v1/admin/keys/{keyId}")] = "admin",
        [("POST", "/v1/admin/keys/{keyId}/rotate")] = "admin",
        [("DELETE", "/v1/admin/keys/{keyId}")] = "admin",
        [("GET", "/v1/admin/audit")] = "admin",
        [("PUT", "/v1/admin/tenants/{tenant}/limits")] = "operator",
        [("GET", "/v1/admin/tenants/{tenant}/limits")] = "admin",
        [("GET", "/v1/admin/tenants/{tenant}/usage")] = "admin",
        [("GET", "/v1/admin/endpoints")] = "admin",
        [("POST", "/v1/collections/{collection}/documents/statuses")] = "reader",
        [("POST", "/v1/collections/{collection}/documents/contents")] = "reader",
        [("POST", "/v1/embeddings")] = "reader",
        [("POST", "/mcp/")] = "reader", // each tool then asks for its own role (McpTests)
        [("GET", "/v1/collections/{collection}/documents")] = "reader",
        [("POST", "/v1/dashboard/orleans-session")] = "operator",
        // Orleans' dashboard (Microsoft.Orleans.Dashboard), mapped at /dashboard/orleans: every page and call admin-only.
        [("GET", "/dashboard/orleans/")] = "operator",
        [("GET", "/dashboard/orleans/index.html")] = "operator",
        [("GET", "/dashboard/orleans/favicon.ico")] = "operator",
        [("GET", "/dashboard/orleans/index.min.js")] = "operator",
        [("GET", "/dashboard/orleans/index.css")] = "operator",
        [("GET", "/dashboard/orleans/fonts/{**path}")] = "operator",
        [("GET", "/dashboard/orleans/img/{**path}")] = "operator",
        [("GET", "/dashboard/orleans/version")] = "operator",
        [("GET", "/dashboard/orleans/DashboardCounters")] = "operator",
        [("GET", "/dashboard/orleans/ClusterStats")] = "operator",
        [("GET", "/dashboard/orleans/Reminders")] = "operator",
        [("GET", "/dashboard/orleans/Reminders/{page:int}")] = "operator",
        [("GET", "/dashboard/orleans/HistoricalStats/{*path}")] = "operator",
        [("GET", "/dashboard/orleans/SiloProperties/{*address}")] = "operator",
        [("GET", "/dashboard/orleans/SiloMetadata/{*address}")] = "operator",
        [("GET", "/dashboard/orleans/SiloStats/{*address}")] = "operator",
        [("GET", "/dashboard/orleans/SiloCounters/{*address}")] = "operator",
        [("GET", "/dashboard/orleans/GrainStats/{*grainName}")] = "operator",
        [("GET", "/dashboard/orleans/TopGrainMethods")] = "operator",
        [("GET", "/dashboard/orleans/GrainState")] = "operator",
        [("GET", "/dashboard/orleans/LifecycleStages")] = "operator",
        [("GET", "/dashboard/orleans/GrainTypes")] = "operator",
        [("GET", "/dashboard/orleans/Trace")] = "operator",
    };

    private async Task<(string KeyId, string Key)> NewKey(string tenant, string role)
    {
        var r = await api.Http.PostAsJsonAsync("v1/admin/keys", new { tenant, role, description = $"{role} of {tenant}" });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var k = await r.Content.ReadFromJsonAsync<JsonElement>();
        return (k.GetProperty("keyId").GetString()!, k.GetProperty("key").GetString()!);
    }

    private async Task<HttpResponseMessage> Send(string method, string route, string? key, string? collection = "c1")
    {
        var path = route.Replace("{collection}", collection).Replace("{id}", "d1").Replace("{keyId}", "k0000000000000000").Replace("{traceId}", new string('a', 32)).Replace("{file}", "app.js").Replace("{documentName}", "v1").Replace("{key}", "p").Replace("{alias}", "a1").Replace("{tenant}", "authz").TrimStart('/');
        path = System.Text.RegularExpressions.Regex.Replace(path, @"\{\*\*?\w+\}", "x").Replace("{page:int}", "1");
        if (route == "/v1/restore/{collection}") path = "v1/restore/r1";
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        if (method is "POST" or "PUT") request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        return await _raw.SendAsync(request);
    }

    private static async Task Until(Func<Task<bool>> condition, TimeSpan limit, string what)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not within {limit.TotalSeconds} s");
            await Task.Delay(50);
        }
    }

    private static async Task AssertProblem(HttpResponseMessage r, HttpStatusCode expected, string what)
    {
        Assert.True(expected == r.StatusCode, $"{what}: expected {(int)expected}, got {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Every_endpoint_refuses_missing_bad_revoked_and_underprivileged_keys_and_hides_other_tenants()
    {
        // The server's endpoint list is exactly the table: nothing unclassified, nothing open by accident.
        var listed = (await api.Http.GetFromJsonAsync<JsonElement>("v1/admin/endpoints")).EnumerateArray()
            .SelectMany(e => e.GetProperty("methods").EnumerateArray().Select(m => (Method: m.GetString()!, Route: e.GetProperty("route").GetString()!, Access: e.GetProperty("access").GetString()!)))
            .ToList();
        var unclassified = listed.Where(e => !Expected.ContainsKey((e.Method, e.Route))).Select(e => $"{e.Method} {e.Route} ({e.Access})").ToList();
        Assert.True(unclassified.Count == 0, "endpoints missing from the auth table: " + string.Join(", ", unclassified));
        foreach (var e in listed) Assert.Equal(Expected[(e.Method, e.Route)], e.Access);
        var missing = Expected.Keys.Where(k => !listed.Any(e => (e.Method, e.Route) == k)).Select(k => $"{k.Item1} {k.Item2}").ToList();
        Assert.True(missing.Count == 0, "in the auth table but not served: " + string.Join(", ", missing));

        var writerA = await NewKey("alpha", "writer");
        var readerA = await NewKey("alpha", "reader");
        var doomedA = await NewKey("alpha", "admin");
        var rotatedA = await NewKey("alpha", "reader");
        var adminB = await NewKey("beta", "admin");
        using (var w = new RagCluster.Client.RagClusterClient(api.Http.BaseAddress!, writerA.Key))
        {
            await w.EnsureCollectionAsync(new("c1"));
            await w.IngestAsync("c1", new("d1") { Text = "alpha's private document" });
            await w.SetAliasAsync("a1", "c1");
        }
        // Both keys work before they are revoked and rotated.
        Assert.Equal(HttpStatusCode.OK, (await Send("GET", "/v1/collections/{collection}/", doomedA.Key)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send("GET", "/v1/collections/{collection}/", rotatedA.Key)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.Http.DeleteAsync($"v1/admin/keys/{doomedA.KeyId}")).StatusCode);
        var rotated = await (await api.Http.PostAsync($"v1/admin/keys/{rotatedA.KeyId}/rotate", null)).Content.ReadFromJsonAsync<JsonElement>();
        var newSecret = rotated.GetProperty("key").GetString()!;
        Assert.NotEqual(rotatedA.Key, newSecret);
        // Auth:CacheSeconds is 1: within it (and the test's own slack) no silo may accept them.
        await Until(async () => (await Send("GET", "/v1/collections/{collection}/", doomedA.Key)).StatusCode == HttpStatusCode.Unauthorized
                                && (await Send("GET", "/v1/collections/{collection}/", rotatedA.Key)).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(3), "the revoked key and the rotated-away secret refused");

        var checkedCount = 0;
        foreach (var ((method, route), access) in Expected)
        {
            var what = $"{method} {route}";
            if (access == "anonymous")
            {
                Assert.NotEqual(HttpStatusCode.Unauthorized, (await Send(method, route, null)).StatusCode);
                continue;
            }
            await AssertProblem(await Send(method, route, null), HttpStatusCode.Unauthorized, what + " without a key");
            await AssertProblem(await Send(method, route, "rck_not-a-key"), HttpStatusCode.Unauthorized, what + " with a malformed key");
            await AssertProblem(await Send(method, route, readerA.Key[..^4] + "AAAA"), HttpStatusCode.Unauthorized, what + " with a wrong secret");
            await AssertProblem(await Send(method, route, doomedA.Key), HttpStatusCode.Unauthorized, what + " with a revoked key");
            await AssertProblem(await Send(method, route, rotatedA.Key), HttpStatusCode.Unauthorized, what + " with a rotated-away secret");
            if (access is "writer" or "admin" or "operator") await AssertProblem(await Send(method, route, readerA.Key), HttpStatusCode.Forbidden, what + " as a reader");
            if (access is "admin" or "operator") await AssertProblem(await Send(method, route, writerA.Key), HttpStatusCode.Forbidden, what + " as a writer");
            if (access is "operator") await AssertProblem(await Send(method, route, adminB.Key), HttpStatusCode.Forbidden, what + " as a tenant admin");
            if (route.StartsWith("/v1/collections/{collection}"))
            {
                // Another tenant's admin may do anything — in its own tenant. alpha's c1 does not exist for it, and
                // the answer is the same as for a name nobody uses.
                var other = await Send(method, route, adminB.Key);
                await AssertProblem(other, HttpStatusCode.NotFound, what + " from another tenant");
                var nobody = await Send(method, route, readerA.Key, collection: "nobody-has-this");
                if (access == "reader") Assert.Equal(await other.Content.ReadFromJsonAsync<JsonElement>() is var o ? o.GetProperty("title").GetString() : null,
                    (await nobody.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
            }
            // A conversation is read only by the key that started it (ConversationTests); here any other id is a 404.
            if (access == "reader" && method == "GET" && !route.Contains("/conversations/"))
                Assert.Equal(HttpStatusCode.OK, (await Send(method, route, readerA.Key)).StatusCode);
            if (access == "reader" && method == "GET" && !route.Contains("/conversations/"))
                Assert.Equal(HttpStatusCode.OK, (await Send(method, route, newSecret)).StatusCode);
            checkedCount++;
        }
        Assert.True(checkedCount >= 20);

        // Listing shows each tenant only its own collections.
        using var beta = new HttpClient { BaseAddress = api.Http.BaseAddress };
        beta.DefaultRequestHeaders.Add("X-Api-Key", adminB.Key);
        Assert.DoesNotContain("c1", (await beta.GetFromJsonAsync<string[]>("v1/collections"))!);
        using var alpha = new HttpClient { BaseAddress = api.Http.BaseAddress };
        alpha.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", readerA.Key);
        Assert.Contains("c1", (await alpha.GetFromJsonAsync<string[]>("v1/collections"))!);
    }

    [Fact]
    public async Task Writes_and_admin_actions_are_audited_with_who_what_and_when()
    {
        var writer = await NewKey("gamma", "writer");
        var reader = await NewKey("gamma", "reader");
        using var w = new HttpClient { BaseAddress = api.Http.BaseAddress };
        w.DefaultRequestHeaders.Add("X-Api-Key", writer.Key);
        await api.CreateCollection("audited", writer.Key);
        Assert.Equal(HttpStatusCode.Accepted, (await w.PostAsJsonAsync("v1/collections/audited/documents", new { id = "a1", text = "audit me" })).StatusCode);
        using var r = new HttpClient { BaseAddress = api.Http.BaseAddress };
        r.DefaultRequestHeaders.Add("X-Api-Key", reader.Key);
        Assert.Equal(HttpStatusCode.Forbidden, (await r.DeleteAsync("v1/collections/audited/documents/a1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await r.PostAsJsonAsync("v1/collections/audited/search", new { query = "audit" })).StatusCode);

        // Entries are appended once each response has completed: wait for the three.
        JsonElement[] entries = [];
        await Until(async () => (entries = (await api.Http.GetFromJsonAsync<JsonElement[]>("v1/admin/audit?tenant=gamma"))!).Length >= 3,
            TimeSpan.FromSeconds(10), "three audit entries of tenant gamma");
        Assert.Contains(entries, e => e.GetProperty("keyId").GetString() == writer.KeyId && e.GetProperty("action").GetString() == "POST /v1/collections/{collection}/documents"
            && e.GetProperty("target").GetString() == "/v1/collections/audited/documents" && e.GetProperty("status").GetInt32() == 202);
        Assert.Contains(entries, e => e.GetProperty("keyId").GetString() == reader.KeyId && e.GetProperty("status").GetInt32() == 403
            && e.GetProperty("action").GetString()!.StartsWith("DELETE "));
        Assert.DoesNotContain(entries, e => e.GetProperty("action").GetString()!.Contains("/search")); // reads are not audited
        // Admin actions: the keys were created by the bootstrap admin, in tenant "default", about tenant gamma.
        var admin = (await api.Http.GetFromJsonAsync<JsonElement[]>("v1/admin/audit?keyId=bootstrap&limit=1000"))!;
        Assert.True(admin.Count(e => e.GetProperty("action").GetString() == "POST /v1/admin/keys" && e.GetProperty("status").GetInt32() == 201) >= 2);
        Assert.All(admin, e => Assert.True(DateTimeOffset.UtcNow - e.GetProperty("at").GetDateTimeOffset() < TimeSpan.FromMinutes(10)));
        // Only admins read it.
        Assert.Equal(HttpStatusCode.Forbidden, (await w.GetAsync("v1/admin/audit")).StatusCode);
    }
}

/// <summary>An API with tight per-key rate limits and JWT bearer tokens (HS256) enabled.</summary>
public sealed class HardenedApiProcess : ApiProcess
{
    public const string JwtSecret = "a-test-signing-secret-of-at-least-32-bytes!";
    protected override string[] RateLimitArgs =>
        ["--RateLimit:PermitsPerSecond", "1", "--RateLimit:Burst", "3", "--RateLimit:AnonymousPermitsPerSecond", "1", "--RateLimit:AnonymousBurst", "50",
         "--RateLimit:FailedKeyChecksPerSecond", "1", "--RateLimit:FailedKeyChecksBurst", "10"];

    protected override string[] ExtraArgs =>
    [
        "--Auth:Jwt:SigningKey", JwtSecret, "--Auth:Jwt:Issuer", "https://issuer.test", "--Auth:Jwt:Audience", "ragcluster",
    ];

    public static string Token(object claims, string secret = JwtSecret)
    {
        static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var header = B64(JsonSerializer.SerializeToUtf8Bytes(new { alg = "HS256", typ = "JWT" }));
        var payload = B64(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = B64(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.ASCII.GetBytes(header + "." + payload)));
        return $"{header}.{payload}.{signature}";
    }
}

public sealed class HardeningTests(HardenedApiProcess api) : IClassFixture<HardenedApiProcess>
{
    private HttpRequestMessage Get(string path, string? key = null, string? bearer = null)
    {
        var m = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null) m.Headers.Add("X-Api-Key", key);
        if (bearer is not null) m.Headers.Authorization = new("Bearer", bearer);
        return m;
    }

    private static async Task<HttpResponseMessage> Send(HttpRequestMessage m, HttpClient http)
    {
        using (m) return await http.SendAsync(m);
    }

    private string ApiOutputTail()
    {
        lock (api.Output) return string.Join("\n", api.Output.TakeLast(30));
    }

    [Fact]
    public async Task Each_key_has_its_own_token_bucket_and_probes_are_never_limited()
    {
        using var raw = new HttpClient { BaseAddress = api.Http.BaseAddress };
        var first = new List<HttpStatusCode>();
        var seen = new List<string>(); // what each answer was, for a failure's message (all six were 429 in two loaded full runs; cause not yet found)
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 6; i++)
        {
            using var r = await Send(Get("v1/embedding", api.AdminKey), raw);
            first.Add(r.StatusCode);
            seen.Add($"{clock.ElapsedMilliseconds} ms: {(int)r.StatusCode} retry-after={r.Headers.RetryAfter} {await r.Content.ReadAsStringAsync()}");
        }
        Assert.True(first.Contains(HttpStatusCode.OK) && first.Contains(HttpStatusCode.TooManyRequests), string.Join("\n", seen) + "\nAPI output:\n" + ApiOutputTail());
        var limited = await Send(Get("v1/embedding", api.AdminKey), raw);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single()) >= 1);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        // The MCP endpoint draws on the same bucket: an agent with this key is paced alike.
        var mcp = Get("mcp", api.AdminKey);
        mcp.Method = HttpMethod.Post;
        mcp.Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}""", System.Text.Encoding.UTF8, "application/json");
        mcp.Headers.Accept.ParseAdd("application/json, text/event-stream");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await Send(mcp, raw)).StatusCode);

        // Another caller (a JWT subject) is not affected by the first key's empty bucket.
        var token = HardenedApiProcess.Token(new { sub = "other", tenant = "default", role = "reader", iss = "https://issuer.test", aud = "ragcluster", exp = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds() });
        Assert.Equal(HttpStatusCode.OK, (await Send(Get("v1/embedding", bearer: token), raw)).StatusCode);
        for (var i = 0; i < 20; i++) Assert.Equal(HttpStatusCode.OK, (await Send(Get("health/live"), raw)).StatusCode);
        // The bucket refills (a refused request takes no permit), so the key is served again within its period.
        await Poll.UntilAsync(async () => (await Send(Get("v1/embedding", api.AdminKey), raw)).StatusCode == HttpStatusCode.OK, seconds: 10);
    }

    [Fact]
    public async Task Jwt_bearer_tokens_carry_tenant_and_role_and_bad_ones_are_401()
    {
        using var raw = new HttpClient { BaseAddress = api.Http.BaseAddress };
        long Exp(int minutes) => DateTimeOffset.UtcNow.AddMinutes(minutes).ToUnixTimeSeconds();
        string Tok(string sub, object? tenant, string role, int minutes = 5, string iss = "https://issuer.test", string? secret = null) =>
            HardenedApiProcess.Token(tenant is null
                ? new { sub, role, iss, aud = "ragcluster", exp = Exp(minutes) }
                : new { sub, tenant, role, iss, aud = "ragcluster", exp = Exp(minutes) } as object, secret ?? HardenedApiProcess.JwtSecret);

        Assert.Equal(HttpStatusCode.OK, (await Send(Get("v1/collections", bearer: Tok("r1", "jwt-t", "reader")), raw)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(Get("v1/admin/audit", bearer: Tok("r2", "jwt-t", "reader")), raw)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(Get("v1/collections", bearer: Tok("e1", "jwt-t", "reader", minutes: -5)), raw)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(Get("v1/collections", bearer: Tok("s1", "jwt-t", "reader", secret: "another-secret-that-is-long-enough-32b")), raw)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(Get("v1/collections", bearer: Tok("i1", "jwt-t", "reader", iss: "https://evil.test")), raw)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(Get("v1/collections", bearer: Tok("n1", null, "reader")), raw)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(Get("v1/collections", bearer: Tok("b1", "Bad Tenant!", "reader")), raw)).StatusCode);

        // A writer token creates a collection in its tenant, invisible to the bootstrap admin's tenant.
        using (var create = new HttpRequestMessage(HttpMethod.Post, "v1/collections") { Content = JsonContent.Create(new { name = "jwt-docs" }) })
        {
            create.Headers.Authorization = new("Bearer", Tok("w1", "jwt-t", "writer"));
            Assert.Equal(HttpStatusCode.Created, (await raw.SendAsync(create)).StatusCode);
        }
        var listed = await (await Send(Get("v1/collections", bearer: Tok("r3", "jwt-t", "reader")), raw)).Content.ReadFromJsonAsync<string[]>();
        Assert.Contains("jwt-docs", listed!);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(Get("v1/collections/jwt-docs", api.AdminKey), raw)).StatusCode);

        // Groups come from the token's "groups" claim (an array, or one string): a reader sees its groups' documents only.
        async Task<HttpStatusCode> Post(string sub, string path, object body)
        {
            using var m = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            m.Headers.Authorization = new("Bearer", Tok(sub, "jwt-t", "writer"));
            return (await raw.SendAsync(m)).StatusCode;
        }
        Assert.Equal(HttpStatusCode.Created, await Post("w2", "v1/collections", new { name = "jwt-acl", accessField = "acl" }));
        Assert.Equal(HttpStatusCode.Accepted, await Post("w2", "v1/collections/jwt-acl/documents", new
        {
            documents = new object[] { new { id = "pay", text = "salary bands for everyone", tags = new { acl = new[] { "hr" } } }, new { id = "wiki", text = "salary of build machines", tags = new { acl = new[] { "eng" } } } },
        }));
        // Polled as the tenant's admin by a token of its own: the bootstrap key's tight bucket is another test's to use up.
        await Poll.UntilAsync(async () => (await raw.SendAsync(Get("v1/collections/jwt-acl", bearer: Tok("poll", "jwt-t", "admin")))) is { StatusCode: HttpStatusCode.OK } r
            && (await r.Content.ReadFromJsonAsync<JsonElement>()) is var c && c.GetProperty("documentCount").GetInt32() == 2 && c.GetProperty("unsettledCount").GetInt32() == 0, seconds: 60);
        async Task<string[]> Found(object claims)
        {
            using var m = new HttpRequestMessage(HttpMethod.Post, "v1/collections/jwt-acl/search") { Content = JsonContent.Create(new { query = "salary", plan = "bm25" }) };
            m.Headers.Authorization = new("Bearer", HardenedApiProcess.Token(claims));
            using var r = await raw.SendAsync(m);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("documentId").GetString()!).Order().ToArray();
        }
        Assert.Equal(["wiki"], await Found(new { sub = "g1", tenant = "jwt-t", role = "reader", groups = new[] { "eng" }, iss = "https://issuer.test", aud = "ragcluster", exp = Exp(5) }));
        Assert.Equal(["pay"], await Found(new { sub = "g2", tenant = "jwt-t", role = "reader", groups = "hr", iss = "https://issuer.test", aud = "ragcluster", exp = Exp(5) }));
        Assert.Empty(await Found(new { sub = "g3", tenant = "jwt-t", role = "reader", iss = "https://issuer.test", aud = "ragcluster", exp = Exp(5) }));
        Assert.Equal(["pay", "wiki"], await Found(new { sub = "g4", tenant = "jwt-t", role = "admin", iss = "https://issuer.test", aud = "ragcluster", exp = Exp(5) }));
        var tooLong = HardenedApiProcess.Token(new { sub = "g5", tenant = "jwt-t", role = "reader", groups = new[] { new string('g', 129) }, iss = "https://issuer.test", aud = "ragcluster", exp = Exp(5) });
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(Get("v1/collections", bearer: tooLong), raw)).StatusCode);
    }

    [Fact]
    public async Task Guessing_keys_is_throttled_per_address_before_the_cluster_is_asked()
    {
        using var raw = new HttpClient { BaseAddress = api.Http.BaseAddress };
        var details = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            // Well-formed keys with random ids: each would cost a key-grain activation to refute.
            var guess = $"rck_k{Random.Shared.NextInt64():x16}.{new string('A', 43)}";
            var r = await Send(Get("v1/collections", guess), raw);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            details.Add((await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!);
        }
        Assert.Contains("unknown key", details[0]);
        Assert.Contains(details, d => d.Contains("too many failed key checks")); // the burst (10) ran out
    }

    [Fact]
    public async Task Guessing_one_keys_secret_from_many_addresses_locks_that_key_id_but_not_its_owner()
    {
        // A real key, verified once by its owner (from its own loopback address: 127.0.0.1's bucket is drained by the test above).
        // (The admin key's own bucket is tiny here and other tests drain it: a 429 creates nothing, so it is sent again.)
        HttpResponseMessage created = null!;
        await Poll.UntilAsync(async () =>
            (created = await api.Http.PostAsJsonAsync("v1/admin/keys", new { role = "reader", description = "guessed at" })).StatusCode != HttpStatusCode.TooManyRequests);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var k = await created.Content.ReadFromJsonAsync<JsonElement>();
        var (keyId, key) = (k.GetProperty("keyId").GetString()!, k.GetProperty("key").GetString()!);
        using var owner = From("127.0.0.200");
        Assert.Equal(HttpStatusCode.OK, (await Send(Get("v1/collections", key), owner)).StatusCode);
        var ownerChecked = System.Diagnostics.Stopwatch.StartNew();

        // Wrong secrets for that key id, two per address from 12 addresses: no address runs out (burst 10), the key id does.
        var details = new List<string>();
        for (var a = 0; a < 12; a++)
        {
            using var guesser = From($"127.0.0.{10 + a}");
            for (var i = 0; i < 2; i++)
            {
                var r = await Send(Get("v1/collections", $"rck_{keyId}.{Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_')}"), guesser);
                Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
                details.Add((await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!);
            }
        }
        Assert.Contains("wrong secret", details[0]);
        Assert.Contains(details, d => d.Contains("too many failed checks of this key id"));
        Assert.DoesNotContain(details, d => d.Contains("from this address"));

        // Past the 1 s key cache, with the key id still locked out, the owner's secret is still checked and still works.
        for (var a = 0; ownerChecked.Elapsed < TimeSpan.FromSeconds(1.5); a++)
        {
            using var guesser = From($"127.0.1.{10 + a % 200}");
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(Get("v1/collections", $"rck_{keyId}.{new string('B', 43)}"), guesser)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await Send(Get("v1/collections", key), owner)).StatusCode);
    }

    /// <summary>A client whose connections come from <paramref name="localAddress"/> (any 127.x.y.z is loopback on Linux).</summary>
    private HttpClient From(string localAddress) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    }) { BaseAddress = api.Http.BaseAddress };

    [Fact]
    public async Task Oversized_bodies_are_413_before_they_are_read()
    {
        using var raw = new HttpClient { BaseAddress = api.Http.BaseAddress };
        using var m = new HttpRequestMessage(HttpMethod.Post, "v1/collections/docs/search")
        {
            Content = new StringContent("{\"query\":\"" + new string('x', 2 * 1024 * 1024) + "\"}", Encoding.UTF8, "application/json"),
        };
        var token = HardenedApiProcess.Token(new { sub = "big", tenant = "default", role = "reader", iss = "https://issuer.test", aud = "ragcluster", exp = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds() });
        m.Headers.Authorization = new("Bearer", token);
        var r = await raw.SendAsync(m);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
    }
}
