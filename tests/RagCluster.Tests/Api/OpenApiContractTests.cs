using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// The OpenAPI document is a contract: every operation declares its response bodies (with schemas), its request body,
/// its problems and its key requirement, every reference resolves, and what the server really sends for the main
/// flows matches the declared schema field for field (no undeclared field, no missing required one, no wrong type).
/// </summary>
public sealed class OpenApiContractTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch"];

    private async Task<JsonElement> DocumentAsync()
    {
        using var anonymous = new HttpClient { BaseAddress = api.Http.BaseAddress };
        return await anonymous.GetFromJsonAsync<JsonElement>("openapi/v1.json");
    }

    /// <summary>
    /// A client that Microsoft's generator (Kiota, pinned in .config/dotnet-tools.json) makes from the live document
    /// compiles and runs the README flow against the server: create a collection, add a document, wait until it is
    /// indexed, search, and get a problem as a typed error. tests/GeneratedClientFlow holds the flow; nothing of the
    /// client is written by hand.
    /// </summary>
    [Fact]
    public async Task A_client_generated_from_the_document_runs_the_readme_flow()
    {
        var dir = Directory.CreateTempSubdirectory("rc-genclient").FullName;
        try
        {
            using (var anonymous = new HttpClient { BaseAddress = api.Http.BaseAddress })
                await File.WriteAllTextAsync(Path.Combine(dir, "openapi.json"), await anonymous.GetStringAsync("openapi/v1.json"));
            var flow = Path.Combine(RepoPaths.Root, "tests", "GeneratedClientFlow");
            File.Copy(Path.Combine(flow, "Program.cs"), Path.Combine(dir, "Program.cs"));
            File.Copy(Path.Combine(flow, "Flow.csproj.template"), Path.Combine(dir, "Flow.csproj"));
            Run(RepoPaths.Root, "tool", "run", "kiota", "generate", "-l", "CSharp", "-d", Path.Combine(dir, "openapi.json"), "-c", "RagClusterClient",
                "-n", "Generated", "-o", Path.Combine(dir, "client"), "--exclude-backward-compatible");
            Assert.True(Directory.GetFiles(Path.Combine(dir, "client"), "*.cs", SearchOption.AllDirectories).Length > 50, "kiota generated next to nothing");
            Run(dir, "build", "-c", "Release", "--nologo", "-v", "q", "-o", Path.Combine(dir, "out"));
            var output = Run(dir, Path.Combine(dir, "out", "Flow.dll"), api.Http.BaseAddress!.ToString().TrimEnd('/'), api.AdminKey);
            Assert.Contains("created generated shards=2", output);
            Assert.Contains("status indexed chunks=1", output);
            Assert.Contains("first=tea", output);
            Assert.Contains("problem 404 Collection not found", output);
        }
        finally
        {
            Directory.Delete(dir, true);
        }

        static string Run(string workingDirectory, params string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["KIOTA_OFFLINE_ENABLED"] = "true"; // no update check against GitHub
            psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            using var p = System.Diagnostics.Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(4)), $"dotnet {string.Join(' ', args)} did not finish in 4 minutes");
            var output = stdout.Result + stderr.Result;
            Assert.True(p.ExitCode == 0, $"dotnet {string.Join(' ', args)} exited {p.ExitCode}:\n{output}");
            return output;
        }
    }

    [Fact]
    public async Task Every_operation_declares_typed_responses_problems_and_its_key()
    {
        var doc = await DocumentAsync();
        Assert.StartsWith("3.", doc.GetProperty("openapi").GetString());
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.EnumerateObject().Count() >= 30, $"only {schemas.EnumerateObject().Count()} component schemas");
        foreach (var reference in References(doc))
            Assert.True(Resolves(doc, reference), $"{reference} does not resolve");

        var problems = new List<string>();
        var operations = 0;
        foreach (var path in doc.GetProperty("paths").EnumerateObject())
        foreach (var op in path.Value.EnumerateObject().Where(o => Methods.Contains(o.Name)))
        {
            operations++;
            var name = $"{op.Name.ToUpperInvariant()} {path.Name}";
            var responses = op.Value.GetProperty("responses").EnumerateObject().ToList();
            var success = responses.Where(r => r.Name.StartsWith('2')).ToList();
            if (success.Count == 0) problems.Add($"{name}: no 2xx response");
            foreach (var r in success)
            {
                if (!r.Value.TryGetProperty("content", out var content))
                {
                    if (r.Name != "204") problems.Add($"{name}: {r.Name} declares no body");
                    continue;
                }
                foreach (var media in content.EnumerateObject())
                {
                    if (!media.Value.TryGetProperty("schema", out var schema)) problems.Add($"{name}: {r.Name} {media.Name} has no schema");
                    else if (media.Name == "application/json" && !IsDescribed(doc, schema)) problems.Add($"{name}: {r.Name} schema says nothing: {schema}");
                }
            }
            foreach (var r in responses.Where(r => r.Name[0] is '4' or '5'))
                if (!r.Value.TryGetProperty("content", out var c) || !c.TryGetProperty("application/problem+json", out _))
                    problems.Add($"{name}: {r.Name} is not a problem");
            // A key scheme where one is needed; an explicit empty list where none is.
            var anonymous = path.Name is "/health/live" or "/health/ready";
            if (!op.Value.TryGetProperty("security", out var security) || (security.GetArrayLength() > 0) == anonymous)
                problems.Add($"{name}: security {(anonymous ? "should be []" : "missing")}");
            foreach (var status in (anonymous ? ["429", "500", "503"] : new[] { "401", "403", "429", "500", "503" }))
                if (responses.All(r => r.Name != status)) problems.Add($"{name}: no {status} problem");
            foreach (var parameter in System.Text.RegularExpressions.Regex.Matches(path.Name, @"\{(\w+)\}").Select(m => m.Groups[1].Value))
                if (!op.Value.TryGetProperty("parameters", out var parameters)
                    || !parameters.EnumerateArray().Any(p => p.GetProperty("in").GetString() == "path" && p.GetProperty("name").GetString() == parameter))
                    problems.Add($"{name}: path parameter {parameter} not declared");
            var readsBody = op.Name is "post" or "put" && !path.Name.EndsWith("/rotate") && path.Name != "/v1/dashboard/orleans-session";
            if (readsBody && !op.Value.TryGetProperty("requestBody", out _)) problems.Add($"{name}: no request body");
        }
        Assert.True(operations >= 30, $"only {operations} operations");
        // Optional fields are optional in the schema too (a generated client must not have to send them).
        var searchBody = Resolve(doc, doc.GetProperty("paths").GetProperty("/v1/collections/{collection}/search").GetProperty("post")
            .GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
        Assert.True(searchBody.GetProperty("properties").TryGetProperty("topK", out _));
        Assert.False(searchBody.TryGetProperty("required", out var searchRequired) && searchRequired.EnumerateArray().Any(r => r.GetString() == "topK"), "topK is marked required");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task The_examples_fit_their_schemas_and_the_server_takes_the_request_examples_as_written()
    {
        var doc = await DocumentAsync();
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        var examples = schemas.EnumerateObject().Where(s => s.Value.TryGetProperty("examples", out _))
            .ToDictionary(s => s.Name, s => s.Value.GetProperty("examples")[0]);
        Assert.True(examples.Count >= 10, $"only {examples.Count} schemas have an example");
        var errors = new List<string>();
        foreach (var (name, example) in examples) Conforms(doc, schemas.GetProperty(name), example, name, errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors));

        // Each request example, sent as it stands, does what the flow expects of it.
        async Task Send(HttpMethod method, string url, string schema, params HttpStatusCode[] expected)
        {
            using var request = new HttpRequestMessage(method, url) { Content = new StringContent(examples[schema].GetRawText(), Encoding.UTF8, "application/json") };
            using var response = await api.Http.SendAsync(request);
            Assert.True(expected.Contains(response.StatusCode), $"{method} {url} with the {schema} example: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        await Send(HttpMethod.Post, "v1/collections", "CreateCollectionRequest", HttpStatusCode.Created);
        await Send(HttpMethod.Post, "v1/collections/kb/documents", "IngestBody", HttpStatusCode.Accepted);
        await Poll.UntilAsync(async () => (await api.Http.GetFromJsonAsync<JsonElement>("v1/collections/kb/documents/tea")).GetProperty("status").GetString() == "indexed");
        await Send(HttpMethod.Post, "v1/collections/kb/documents/statuses", "StatusesRequest", HttpStatusCode.OK);
        await Send(HttpMethod.Post, "v1/collections/kb/search", "SearchBody", HttpStatusCode.OK);
        await Send(HttpMethod.Post, "v1/collections/kb/ask", "AskBody", HttpStatusCode.OK);
        await Send(HttpMethod.Put, "v1/collections/kb", "ConfigureCollectionRequest", HttpStatusCode.OK, HttpStatusCode.Accepted);
        await Send(HttpMethod.Post, "v1/admin/keys", "CreateKeyRequest", HttpStatusCode.Created);
    }

    [Fact]
    public async Task What_the_server_sends_matches_the_declared_schemas()
    {
        var doc = await DocumentAsync();
        var http = api.Http;
        var checkedCount = 0;
        async Task<JsonElement> Check(HttpMethod method, string template, string url, object? body = null)
        {
            using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            var status = ((int)response.StatusCode).ToString();
            var operation = doc.GetProperty("paths").GetProperty(template).GetProperty(method.Method.ToLowerInvariant());
            Assert.True(operation.GetProperty("responses").TryGetProperty(status, out var declared), $"{method} {url} answered {status}, not declared: {text}");
            var mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
            if (text.Length == 0) return default;
            Assert.True(declared.GetProperty("content").TryGetProperty(mediaType, out var media), $"{method} {url} {status} sent {mediaType}, not declared");
            var value = JsonDocument.Parse(text).RootElement.Clone();
            var errors = new List<string>();
            Conforms(doc, media.GetProperty("schema"), value, "$", errors);
            Assert.True(errors.Count == 0, $"{method} {url} {status}:\n{string.Join("\n", errors)}\n{text}");
            checkedCount++;
            return value;
        }

        await Check(HttpMethod.Get, "/health/live", "health/live");
        await Check(HttpMethod.Get, "/health/ready", "health/ready");
        await Check(HttpMethod.Post, "/v1/collections", "v1/collections", new { name = "contract", shardCount = 2 });
        await Check(HttpMethod.Get, "/v1/collections", "v1/collections");
        await Check(HttpMethod.Post, "/v1/collections/{collection}/documents", "v1/collections/contract/documents",
            new { id = "owls", text = "Owls hunt at night. Their feathers are soft and silent.", tags = new { kind = "bird" } });
        await Check(HttpMethod.Post, "/v1/collections/{collection}/documents", "v1/collections/contract/documents", new
        {
            documents = new object[] { new { id = "bats", text = "Bats hunt at night by echolocation." }, new { id = "bats", text = "again" }, new { id = "x/y", text = "bad id" } },
        });
        await Poll.UntilAsync(async () => (await http.GetFromJsonAsync<JsonElement>("v1/collections/contract/documents/owls")).GetProperty("status").GetString() == "indexed");
        await Check(HttpMethod.Get, "/v1/collections/{collection}/documents/{id}", "v1/collections/contract/documents/owls");
        await Check(HttpMethod.Post, "/v1/collections/{collection}/documents/statuses", "v1/collections/contract/documents/statuses", new { ids = new[] { "owls", "bats", "never" } });
        await Check(HttpMethod.Get, "/v1/collections/{collection}/documents", "v1/collections/contract/documents?limit=10");
        await Check(HttpMethod.Post, "/v1/collections/{collection}/documents/contents", "v1/collections/contract/documents/contents", new { ids = new[] { "owls", "never" }, includeVectors = true });
        await Check(HttpMethod.Get, "/v1/collections/{collection}", "v1/collections/contract");
        var search = await Check(HttpMethod.Post, "/v1/collections/{collection}/search", "v1/collections/contract/search", new { query = "owls at night", topK = 3 });
        Assert.True(search.GetProperty("hits").GetArrayLength() > 0);
        await Check(HttpMethod.Post, "/v1/collections/{collection}/ask", "v1/collections/contract/ask", new { question = "When do owls hunt?" });
        await Check(HttpMethod.Get, "/v1/collections/{collection}/shards", "v1/collections/contract/shards");
        await Check(HttpMethod.Get, "/v1/collections/{collection}/plans", "v1/collections/contract/plans");
        await Check(HttpMethod.Put, "/v1/collections/{collection}", "v1/collections/contract", new { chunkMaxTokens = 200 });
        await Check(HttpMethod.Get, "/v1/collections/{collection}/documents/{id}", "v1/collections/contract/documents/never");
        await Check(HttpMethod.Post, "/v1/collections/{collection}/search", "v1/collections/contract/search", new { query = "" });
        await Check(HttpMethod.Get, "/v1/cluster", "v1/cluster");
        await Check(HttpMethod.Get, "/v1/cluster/ping/{key}", "v1/cluster/ping/contract");
        await Check(HttpMethod.Get, "/v1/cache", "v1/cache");
        await Check(HttpMethod.Get, "/v1/embedding", "v1/embedding");
        var key = await Check(HttpMethod.Post, "/v1/admin/keys", "v1/admin/keys", new { role = "reader", description = "contract" });
        await Check(HttpMethod.Get, "/v1/admin/keys/{keyId}", $"v1/admin/keys/{key.GetProperty("keyId").GetString()}");
        await Check(HttpMethod.Get, "/v1/admin/keys", "v1/admin/keys");
        await Check(HttpMethod.Get, "/v1/admin/audit", "v1/admin/audit?limit=20");
        await Check(HttpMethod.Get, "/v1/admin/endpoints", "v1/admin/endpoints");
        await Check(HttpMethod.Get, "/v1/dashboard", "v1/dashboard");
        await Check(HttpMethod.Get, "/v1/dashboard/traces/{traceId}", $"v1/dashboard/traces/{search.GetProperty("traceId").GetString()}");
        await Check(HttpMethod.Delete, "/v1/admin/keys/{keyId}", $"v1/admin/keys/{key.GetProperty("keyId").GetString()}");
        Assert.Equal(30, checkedCount);
    }

    /// <summary>Whether a JSON body's schema describes something: a type, properties, items or a reference to one that does.</summary>
    private static bool IsDescribed(JsonElement doc, JsonElement schema)
    {
        schema = Resolve(doc, schema);
        return schema.TryGetProperty("type", out _) || schema.TryGetProperty("properties", out _) || schema.TryGetProperty("oneOf", out _);
    }

    private static JsonElement Resolve(JsonElement doc, JsonElement schema)
    {
        while (schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("$ref", out var reference))
        {
            var node = doc;
            foreach (var part in reference.GetString()!.TrimStart('#', '/').Split('/')) node = node.GetProperty(part);
            schema = node;
        }
        return schema;
    }

    private static bool Resolves(JsonElement doc, string reference)
    {
        var node = doc;
        foreach (var part in reference.TrimStart('#', '/').Split('/'))
            if (!node.TryGetProperty(part, out node)) return false;
        return true;
    }

    private static IEnumerable<string> References(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
                if (p.Name == "$ref" && p.Value.ValueKind == JsonValueKind.String) yield return p.Value.GetString()!;
                else foreach (var r in References(p.Value)) yield return r;
        }
        else if (e.ValueKind == JsonValueKind.Array)
            foreach (var item in e.EnumerateArray()) foreach (var r in References(item)) yield return r;
    }

    /// <summary>Checks <paramref name="value"/> against a schema of the subset the document uses (types, properties, required, items, oneOf, additionalProperties).</summary>
    private static void Conforms(JsonElement doc, JsonElement schema, JsonElement value, string at, List<string> errors)
    {
        schema = Resolve(doc, schema);
        if (schema.TryGetProperty("oneOf", out var oneOf))
        {
            var options = oneOf.EnumerateArray().ToList();
            if (value.ValueKind == JsonValueKind.Null && options.Any(o => Types(Resolve(doc, o))?.Contains("null") == true)) return;
            var others = options.Where(o => Types(Resolve(doc, o)) is not ["null"]).ToList();
            foreach (var o in others)
            {
                var attempt = new List<string>();
                Conforms(doc, o, value, at, attempt);
                if (attempt.Count == 0) return;
            }
            errors.Add($"{at}: matches none of oneOf");
            return;
        }
        if (Types(schema) is { } types && !types.Contains(Kind(value)) && !(Kind(value) == "integer" && types.Contains("number")))
        {
            errors.Add($"{at}: {Kind(value)}, declared {string.Join("|", types)}");
            return;
        }
        if (value.ValueKind == JsonValueKind.Object)
        {
            var declared = schema.TryGetProperty("properties", out var properties) ? properties.EnumerateObject().ToDictionary(p => p.Name, p => p.Value) : [];
            var extra = schema.TryGetProperty("additionalProperties", out var additional) ? additional : default;
            foreach (var p in value.EnumerateObject())
            {
                if (declared.TryGetValue(p.Name, out var ps)) Conforms(doc, ps, p.Value, $"{at}.{p.Name}", errors);
                else if (extra.ValueKind == JsonValueKind.Object) Conforms(doc, extra, p.Value, $"{at}.{p.Name}", errors);
                else if (declared.Count > 0 || extra.ValueKind == JsonValueKind.False) errors.Add($"{at}.{p.Name}: not declared");
            }
            if (schema.TryGetProperty("required", out var required))
                foreach (var r in required.EnumerateArray().Select(r => r.GetString()!))
                    if (!value.TryGetProperty(r, out _)) errors.Add($"{at}.{r}: required, missing");
        }
        else if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
        {
            var i = 0;
            foreach (var item in value.EnumerateArray()) Conforms(doc, items, item, $"{at}[{i++}]", errors);
        }
    }

    private static string[]? Types(JsonElement schema) =>
        !schema.TryGetProperty("type", out var t) ? null
        : t.ValueKind == JsonValueKind.Array ? t.EnumerateArray().Select(x => x.GetString()!).ToArray()
        : [t.GetString()!];

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => "null",
        JsonValueKind.String => "string",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.Number => value.TryGetInt64(out _) && !value.GetRawText().Contains('.') && !value.GetRawText().Contains('e') ? "integer" : "number",
        _ => "undefined",
    };
}
