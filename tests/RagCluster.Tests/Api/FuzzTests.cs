using RagCluster.Tests.Infrastructure;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Hostile input: ≥ 10,000 malformed HTTP requests (bad JSON, wrong types, huge bodies, path tricks, odd headers
/// and content types, bad keys and tokens) from 8 concurrent clients, plus malformed raw HTTP/1.1 on sockets
/// (header injection, smuggling, broken chunking, oversized lines). Not one may get a 5xx or break a connection
/// that carried well-formed HTTP, and the cluster must still serve afterwards. Seeded, so a failure reproduces.
/// </summary>
public sealed class FuzzTests(ThreeSiloApiProcess api, ITestOutputHelper output) : IClassFixture<ThreeSiloApiProcess>
{
    private const int Seed = 20261122, HttpCases = 10_000;

    private static readonly string[] Routes =
    [
        "v1/collections", "v1/collections/{c}", "v1/collections/{c}/documents", "v1/collections/{c}/documents/{s}", "v1/collections/{c}/search",
        "v1/collections/{c}/ask", "v1/collections/{c}/plans", "v1/collections/{c}/shards", "v1/admin/keys", "v1/admin/keys/{s}",
        "v1/admin/keys/{s}/rotate", "v1/admin/audit?{q}", "v1/admin/endpoints", "v1/cluster", "v1/cluster/ping/{s}", "v1/cache",
        "v1/embedding", "metrics", "health/ready", "health/live", "{s}", "v1/{s}/{s}", "v1/collections/{c}/{s}",
    ];

    private static readonly string[] Segments =
    [
        "docs", "fuzz", "..", "%2e%2e", "..%2f..%2fetc%2fpasswd", "%00", "a%0d%0aSet-Cookie:%20x=1", "%ce%a9%e2%89%88", "%ff%fe", "%25",
        "con", "%20", "-", "_", "%f0%9f%98%80", "a%2fb", "%252e%252e", "k0000000000000000", "kzzzzzzzzzzzzzzzz", "Docs", "a.b", "~root",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "'%20OR%201=1--", "${jndi:ldap://x}", "%7B%7B7*7%7D%7D", "null", "undefined", "-1", "9999999999999999999999",
    ];

    private static readonly string[] Queries =
    [
        "limit=abc", "limit=0", "limit=-5", "limit=99999999999999999999", "from=notadate", "from=2026-13-45", "to=1970-01-01&from=2100-01-01",
        "tenant=..%2f..", "keyId=%00", "tenant=" + new string('a', 5000), "from=%ff", "limit=1e9", "limit=1&limit=2", "",
    ];

    private static readonly string[] ContentTypes =
    [
        "application/json", "application/json", "application/json", "text/plain", "application/xml", "multipart/form-data; boundary=broken",
        "multipart/form-data", "application/x-www-form-urlencoded", "application/json; charset=utf-7", "application/json; charset=\"", "*/*",
        "application/octet-stream", "multipart/form-data; boundary=" + new string('b', 200),
    ];

    private static string Body(Random rng)
    {
        string Str(int n) => new(Enumerable.Range(0, n).Select(_ => (char)rng.Next(32, 0x2FF)).ToArray());
        return rng.Next(30) switch
        {
            0 => "{\"query\": 1}",
            1 => "{\"query\": [\"a\"], \"topK\": {}}",
            2 => "{\"query\":\"x\",\"topK\":\"5\"}",
            3 => "{\"query\":\"x\",\"topK\":1e400}",
            4 => "{\"query\":\"x\",\"topK\":2147483648}",
            5 => "{\"query\":\"x\",\"filter\":[1,2]}",
            6 => "{\"query\":\"x\",\"filter\":{\"a\":{\"b\":1}}}",
            7 => "{\"question\":null,\"stream\":\"yes\"}",
            8 => "{\"name\":123,\"shardCount\":\"many\"}",
            9 => "{\"name\":\"f" + rng.Next(1000) + "\",\"shardCount\":" + (rng.Next(2) == 0 ? "-1" : "1000000000") + "}",
            10 => "{\"tenant\":\"a\",\"role\":[\"admin\"]}",
            11 => new string('[', 5000) + new string(']', 5000),
            12 => "{\"query\":\"unterminated",
            13 => "{\"query\":\"\\ud800\"}",
            14 => "\uFEFF{\"query\":\"bom\"}",
            15 => "{\"query\":\"x\",}",
            16 => "{\"query\":NaN}",
            17 => Convert.ToBase64String(Enumerable.Range(0, rng.Next(1, 400)).Select(_ => (byte)rng.Next(256)).ToArray()),
            18 => "{\"query\":\"" + new string('q', rng.Next(2001, 50_000)) + "\"}",
            19 => "{\"id\":\"" + Str(rng.Next(1, 300)).Replace("\"", "").Replace("\\", "") + "\",\"text\":42}",
            20 => "{\"id\":\"ok\",\"text\":\"x\",\"tags\":{\"" + new string('k', 100) + "\":\"v\"}}",
            21 => "{\"id\":\"ok\",\"text\":\"x\",\"format\":\"pdf\"}",
            22 => "null",
            23 => "[]",
            24 => "{\"query\":\"" + Str(rng.Next(1, 100)).Replace("\"", "").Replace("\\", "") + "\",\"plan\":\"" + Str(5).Replace("\"", "").Replace("\\", "") + "\"}",
            26 or 27 => "{\"query\":\"x\",\"filter\":" + HostileFilter(rng, 0) + "}",
            28 => "{\"question\":\"x\",\"filter\":" + HostileFilter(rng, 0) + "}",
            29 => "{\"id\":\"ok\",\"text\":\"x\",\"tags\":{\"t\":" + HostileValue(rng) + ",\"u\":[" + HostileValue(rng) + "]}}",
            _ => "--broken\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../etc/passwd\"\r\n\r\nroot\r\n--bro",
        };
    }

    // Filters a careless or hostile client writes: every operator in and out of place, values of every JSON type, deep
    // nesting, long lists, impossible numbers and dates, U+0000.
    private static string HostileFilter(Random rng, int depth)
    {
        string[] ops = ["$and", "$or", "$not", "$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$containsAny", "$containsAll", "$regex", "lang", "$"];
        if (depth > 40 || rng.Next(4) == 0) return HostileValue(rng);
        return rng.Next(5) switch
        {
            0 => "[" + string.Join(',', Enumerable.Range(0, rng.Next(0, 4)).Select(_ => HostileFilter(rng, depth + 1))) + "]",
            1 => "{\"" + ops[rng.Next(ops.Length)] + "\":[" + string.Join(',', Enumerable.Range(0, rng.Next(0, 1500)).Select(_ => HostileValue(rng))) + "]}",
            _ => "{" + string.Join(',', Enumerable.Range(0, rng.Next(0, 4)).Select(_ => "\"" + ops[rng.Next(ops.Length)] + "\":" + HostileFilter(rng, depth + 1))) + "}",
        };
    }

    private static string HostileValue(Random rng) => rng.Next(12) switch
    {
        0 => "null",
        1 => "1e400",
        2 => "-0",
        3 => "9223372036854775808",
        4 => "\"2024-02-30T00:00:00Z\"",
        5 => "\"2024-01-01T00:00:00+99:99\"",
        6 => "\"\\u0000b1\"",
        7 => "true",
        8 => "{}",
        9 => "\"" + new string('x', rng.Next(0, 3000)) + "\"",
        10 => "\"9999-12-31T23:59:59.9999999-14:00\"",
        _ => rng.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private HttpRequestMessage Build(Random rng, string readerKey, (string Method, string Route)[] served)
    {
        // Three in four aim at a served endpoint with its own method, so most cases get past routing into the handlers.
        var aimed = rng.Next(4) != 0;
        var (servedMethod, servedRoute) = served[rng.Next(served.Length)];
        var route = aimed
            ? servedRoute.TrimStart('/').Replace("{collection}", "{c}").Replace("{id}", "{s}").Replace("{keyId}", "{s}").Replace("{key}", "{s}") + (servedRoute.EndsWith("/audit") ? "?{q}" : "")
            : Routes[rng.Next(Routes.Length)];
        var path = route.Replace("{c}", rng.Next(3) == 0 ? Segments[rng.Next(Segments.Length)] : "docs")
            .Replace("{q}", Queries[rng.Next(Queries.Length)]);
        while (path.Contains("{s}")) path = path[..path.IndexOf("{s}")] + Segments[rng.Next(Segments.Length)] + path[(path.IndexOf("{s}") + 3)..];
        if (rng.Next(40) == 0) path += "/" + new string('a', rng.Next(1000, 6000)); // long paths
        var methods = new[] { "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD" };
        var method = aimed ? servedMethod : methods[rng.Next(methods.Length)];
        // Deleting the target collection would turn the rest of the run into 404s before any handler: aim it elsewhere.
        if (method == "DELETE" && path.TrimEnd('/') == "v1/collections/docs") path = "v1/collections/fuzz-victim";
        var request = new HttpRequestMessage(new HttpMethod(method), path.Length == 0 ? "/" : path);

        switch (rng.Next(20))
        {
            case < 13: request.Headers.TryAddWithoutValidation("X-Api-Key", api.AdminKey); break;
            case 13: request.Headers.TryAddWithoutValidation("X-Api-Key", readerKey); break;
            case 14: request.Headers.TryAddWithoutValidation("X-Api-Key", "rck_k" + new string('0', 16) + "." + new string('A', 43)); break;
            case 15: request.Headers.TryAddWithoutValidation("Authorization", "Bearer eyJhbGciOiJub25lIn0.eyJyb2xlIjoiYWRtaW4ifQ."); break;
            case 16: request.Headers.TryAddWithoutValidation("Authorization", "Basic " + Convert.ToBase64String("admin:admin"u8.ToArray())); break;
            case 17: request.Headers.TryAddWithoutValidation("X-Api-Key", new[] { api.AdminKey, readerKey }); break;
            case 18: request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + new string('x', rng.Next(1, 20_000))); break;
            default: break; // no key
        }
        if (rng.Next(10) == 0) request.Headers.TryAddWithoutValidation("X-" + rng.Next(100), new string('h', rng.Next(1, 40_000)));
        if (rng.Next(15) == 0) request.Headers.TryAddWithoutValidation("Content-Encoding", "gzip");
        if (rng.Next(15) == 0) request.Headers.TryAddWithoutValidation("Accept", "application/xml, */*;q=abc");

        if (request.Method != HttpMethod.Get && request.Method != HttpMethod.Head && rng.Next(10) != 0)
        {
            byte[] bytes = rng.Next(60) == 0
                ? Encoding.UTF8.GetBytes("{\"query\":\"" + new string('z', 2 * 1024 * 1024) + "\"}") // over the 1 MiB JSON limit
                : Encoding.UTF8.GetBytes(Body(rng));
            var content = new ByteArrayContent(bytes);
            content.Headers.TryAddWithoutValidation("Content-Type", ContentTypes[rng.Next(ContentTypes.Length)]);
            request.Content = content;
            // As careful clients do: a server that refuses early (413, or a malformed request line) answers before the
            // body is sent, instead of closing the connection under an upload it will never read.
            request.Headers.ExpectContinue = true;
        }
        return request;
    }

    /// <summary>{"jsonrpc":"2.0","error":{"code":N,"message":"…"},…} with a message that says something.</summary>
    private static bool IsJsonRpcError(string body)
    {
        try
        {
            var e = JsonDocument.Parse(body).RootElement;
            return e.GetProperty("jsonrpc").GetString() == "2.0" && e.GetProperty("error").GetProperty("code").ValueKind == JsonValueKind.Number
                   && e.GetProperty("error").GetProperty("message").GetString() is { Length: > 10 };
        }
        catch (Exception x) when (x is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    [Fact]
    public async Task Ten_thousand_malformed_requests_get_no_server_error_and_the_cluster_keeps_serving()
    {
        var readerKey = (await api.Client.CreateKeyAsync(new("reader") { Tenant = "default" })).Key!;
        await api.Client.IngestAsync("docs", new("seed") { Text = "Fuzzing keeps the parser honest." });
        await api.CreateCollection("fuzz-victim");
        var served = (await api.Http.GetFromJsonAsync<JsonElement>("v1/admin/endpoints")).EnumerateArray()
            .SelectMany(e => e.GetProperty("methods").EnumerateArray().Select(m => (m.GetString()!, e.GetProperty("route").GetString()!))).ToArray();

        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 8 }) { BaseAddress = api.Http.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var serverErrors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= HttpCases) return;
                var rng = new Random(Seed + i); // case i is reproducible on its own
                using var request = Build(rng, readerKey, served);
                var what = $"case {i}: {request.Method} {Shorten(request.RequestUri!.OriginalString)}";
                var toMcp = request.RequestUri.OriginalString.StartsWith("mcp/"); // before sending: then the URI is absolute
                try
                {
                    using var response = await client.SendAsync(request);
                    var body = await response.Content.ReadAsStringAsync();
                    statuses.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                    if ((int)response.StatusCode >= 500) serverErrors.Enqueue($"{what} -> {(int)response.StatusCode} {Shorten(body)}");
                    // Kestrel refuses some requests at the protocol level, before any middleware, with an empty
                    // 400 (a NUL in the path), 414 or 431; everything the application answers is a problem, except what
                    // the MCP endpoint answers once a request reached it: an error in JSON-RPC's own shape, as MCP clients read.
                    else if ((int)response.StatusCode >= 400 && request.Method != HttpMethod.Head && response.Content.Headers.ContentType?.MediaType != "application/problem+json"
                             && !((int)response.StatusCode is 431 or 414 || ((int)response.StatusCode == 400 && body.Length == 0 && request.RequestUri!.OriginalString.Contains("%00")))
                             && !(toMcp && IsJsonRpcError(body)))
                        serverErrors.Enqueue($"{what} -> {(int)response.StatusCode} without problem details: {Shorten(body)}");
                }
                catch (HttpRequestException e)
                {
                    serverErrors.Enqueue($"{what} -> connection failed: {e.Message}");
                }
            }
        }));
        output.WriteLine("statuses: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}")));
        Assert.Equal(HttpCases, statuses.Values.Sum() + serverErrors.Count(e => e.Contains("connection failed")));
        string[] logged;
        lock (api.Output) logged = api.Output.Where(l => l.Contains("xception")).Take(10).ToArray();
        Assert.True(serverErrors.IsEmpty, $"{serverErrors.Count} bad answers:\n" + string.Join("\n", serverErrors.Take(20)) + "\nlogged:\n" + string.Join("\n", logged));

        var raw = await RawSocketCases();
        output.WriteLine($"raw HTTP/1.1 cases: {raw.Count}, statuses: " + string.Join(", ", raw.GroupBy(r => r).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}")));
        // 505 is Kestrel's correct answer to "HTTP/9.9" (the client's version is unsupported), not a server failure.
        Assert.DoesNotContain(raw, s => s >= 500 && s != 505);

        // Still a healthy 3-silo cluster that answers.
        Assert.True(api.AllAlive, "a silo process died");
        await api.WaitForMembers(3);
        Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync("health/ready")).StatusCode);
        // ("docs" itself may have been deleted by a fuzzed DELETE: a fresh collection shows the cluster still works.)
        await api.CreateCollection("after-fuzz");
        await api.Client.IngestAsync("after-fuzz", new("calm") { Text = "After the storm the parser is calm." });
        RagCluster.Client.SearchHitReply[] hits = [];
        await Poll.UntilAsync(async () => (hits = (await api.Client.SearchAsync("after-fuzz", new("parser calm") { Plan = "bm25" })).Hits).Length > 0, 10);
        Assert.Equal("calm", hits[0].DocumentId);
        lock (api.Output) Assert.DoesNotContain(api.Output, l => l.Contains("Unhandled exception", StringComparison.OrdinalIgnoreCase));
    }

    private static string Shorten(string s) => s.Length <= 160 ? s : s[..160] + $"…({s.Length})";

    /// <summary>Requests HttpClient refuses to send. Status of the answer, or 0 when Kestrel closed without one (allowed for garbage).</summary>
    private async Task<List<int>> RawSocketCases()
    {
        var auth = $"X-Api-Key: {api.AdminKey}\r\n";
        var cases = new List<string>
        {
            $"GET /v1/collections HTTP/1.1\r\nHost: x\r\n{auth}X-Evil: a\rSet-Cookie: b\r\n\r\n",
            $"GET /v1/collections HTTP/1.1\r\nHost: x\r\n{auth}X-Evil: a\nInjected: b\r\n\r\n",
            $"GET /v1/collections HTTP/1.1\r\nHost: x\r\n{auth}X-Nul: a\0b\r\n\r\n",
            $"GET /v1/collections HTTP/1.1\r\nHost: x\r\n{auth} folded: continuation\r\n\r\n",
            $"GET /v1/collections HTTP/1.1\r\nHost: x\r\nX-Api-Key: {api.AdminKey}\r\nX-Api-Key: {api.AdminKey}\r\n\r\n",
            $"POST /v1/collections/docs/search HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n0\r\n\r\n",
            $"POST /v1/collections/docs/search HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n",
            $"POST /v1/collections/docs/search HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 100\r\nContent-Type: application/json\r\n\r\n{{\"query\":",
            $"POST /v1/collections/docs/search HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: -1\r\n\r\n",
            $"POST /v1/collections/docs/search HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 99999999999999999999\r\n\r\n",
            $"GET /{new string('a', 20_000)} HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /v1/collections/%2e%2e/%2e%2e HTTP/1.1\r\nHost: x\r\n\r\n",
            "G\u00c9T /v1/collections HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /v1/collections HTTP/9.9\r\nHost: x\r\n\r\n",
            "GET /v1/collections\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003",
            "GET /v1/collections HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            $"GET /v1/collections HTTP/1.1\r\n{auth}\r\n",
            $"GET /v1/collections HTTP/1.1\r\nHost: x\r\nX-Api-Key: {new string('k', 70_000)}\r\n\r\n",
            $"GET http://evil.example/v1/collections HTTP/1.1\r\nHost: x\r\n{auth}\r\n",
            "GET /health/live HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n0123456789",
        };
        var rng = new Random(Seed);
        for (var i = 0; i < 200; i++) // random byte soup after a plausible start
            cases.Add("POST /v1/collections/docs/search HTTP/1.1\r\n" + new string(Enumerable.Range(0, rng.Next(1, 300)).Select(_ => (char)rng.Next(0, 256)).ToArray()) + "\r\n\r\n");

        var results = new List<int>();
        foreach (var c in cases)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(api.Http.BaseAddress!.Host, api.Http.BaseAddress.Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.Latin1.GetBytes(c));
            using var reader = new StreamReader(stream, Encoding.Latin1);
            string? line;
            try
            {
                // An incomplete request (a body shorter than its Content-Length) is rightly waited for: no answer in time is 0.
                line = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception e) when (e is TimeoutException or IOException)
            {
                line = null;
            }
            results.Add(line is not null && line.StartsWith("HTTP/1.1 ") && int.TryParse(line.AsSpan(9, 3), out var status) ? status : 0);
        }
        return results;
    }
}
