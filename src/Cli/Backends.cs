using RagCluster.Grains.Interfaces.Errors;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RagCluster.Grains;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.OwnVectors;
using RagCluster.Grains.Backup;
using RagCluster.Grains.Querying;
using RagCluster.Grains.Security;
using Microsoft.Extensions.Hosting;
using Orleans;
using Orleans.Runtime;
using RagCluster.Hosting;

namespace RagCluster.Cli;

/// <summary>What the CLI can do to a RagCluster, whether it runs in this process or behind an HTTP API.</summary>
public interface IRagBackend : IAsyncDisposable
{
    Task<DocumentStatus> IngestAsync(string collection, string id, IngestRequest request, CancellationToken ct);
    Task<DocumentStatus> StatusAsync(string collection, string id, CancellationToken ct);
    /// <summary>Submits a batch (at most 1,000); each document gets its own status, or an error naming why it was refused.</summary>
    Task<BatchItem[]> IngestManyAsync(string collection, IReadOnlyList<(string Id, IngestRequest Request)> documents, CancellationToken ct);
    /// <summary>The statuses of up to 1,000 documents in one call ("notFound" for none).</summary>
    Task<DocumentStatus[]> StatusManyAsync(string collection, IReadOnlyList<string> ids, CancellationToken ct);
    Task<SearchResponse> SearchAsync(string collection, SearchRequest request, CancellationToken ct);
    Task<(string Answer, Citation[] Citations, string Plan)> AskAsync(string collection, string question, int topK, CancellationToken ct);
    Task<CollectionInfo> CollectionAsync(string collection, CancellationToken ct);
    /// <summary>Creates the collection unless it exists; true when it was created.</summary>
    /// <param name="dimensions">For a new collection: set to bring its own vectors of this dimension (null: the cluster's model).</param>
    Task<bool> EnsureCollectionAsync(string collection, int? dimensions, CancellationToken ct);
    Task<ApiKeyInfo> CreateKeyAsync(string tenant, string role, string description, CancellationToken ct);
    Task<ApiKeyInfo[]> ListKeysAsync(string? tenant, CancellationToken ct);
    Task<ApiKeyInfo> RotateKeyAsync(string keyId, CancellationToken ct);
    Task<ApiKeyInfo> RevokeKeyAsync(string keyId, CancellationToken ct);
    /// <summary>Deletes the collection with all its documents and chunks.</summary>
    Task DropCollectionAsync(string collection, CancellationToken ct);
    /// <summary>Writes the collection's backup archive to <paramref name="file"/>.</summary>
    Task<BackupSummary> BackupAsync(string collection, string file, CancellationToken ct);
    /// <summary>Restores <paramref name="file"/> into the new collection <paramref name="collection"/>.</summary>
    Task<BackupSummary> RestoreAsync(string collection, string file, CancellationToken ct);
    string Describe();
}

/// <summary>
/// One document of a batch: its status after submission, or why it was refused; <paramref name="RetryAfter"/> (seconds)
/// when it was refused with a 503, which nothing of it was kept by, so sending it again is safe.
/// </summary>
public sealed record BatchItem(string Id, string Status, string? Error, int? RetryAfter = null);

public sealed record BackupSummary(string Collection, int Documents, int Chunks, string[] Skipped);

/// <summary>
/// The embedded default: a single Orleans silo in this process on the local SQLite store (the same data the API's
/// embedded default uses; run one of them at a time). It acts as the operator of that store: collections are
/// those of tenant "default" (the same ones the API's bootstrap admin key sees).
/// </summary>
public sealed class EmbeddedBackend : IRagBackend
{
    private readonly IHost _host;
    private readonly IGrainFactory _silo;

    private EmbeddedBackend(IHost host)
    {
        _host = host;
        _silo = host.Services.GetRequiredService<IGrainFactory>();
    }

    public static async Task<EmbeddedBackend> StartAsync(string dataDir, string? modelDir, CancellationToken ct)
    {
        Directory.CreateDirectory(dataDir);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Embedding:ModelDirectory"] = modelDir ?? Environment.GetEnvironmentVariable("RAGCLUSTER_MODEL") ?? "",
        }).AddEnvironmentVariables();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Error);
        builder.Services.AddRagPipeline(builder.Configuration);
        builder.UseOrleans(silo => silo.AddRagClusterSilo(builder.Configuration, o =>
        {
            o.ClusterId = "dev";
            o.Clustering = "localhost";
            o.Storage = "sqlite:" + Path.Combine(Path.GetFullPath(dataDir), "ragcluster.db");
            o.SiloPort = FreePort(); // a silo of its own, beside any API silo on this machine
            o.GatewayPort = 0;
            o.Roles = RagCluster.Grains.Placement.SiloRoles.Embedding; // the only silo: it embeds, whatever the environment says
        }));
        var host = builder.Build();
        host.Services.GetRequiredService<RagCluster.Grains.Embedding.EmbeddingService>(); // an unusable model setting fails before the silo starts
        await host.StartAsync(ct);
        return new EmbeddedBackend(host);
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    public string Describe() => $"embedded silo on {_host.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress}; {_host.Services.GetRequiredService<RagCluster.Grains.Embedding.EmbeddingService>().Status}";

    private static string Key(string collection) => TenantScope.CollectionKey(TenantScope.DefaultTenant, collection);

    private async Task<string> Existing(string collection)
    {
        if (!await _silo.GetGrain<ICollectionGrain>(Key(collection)).Exists()) throw new CliException($"no collection '{collection}'");
        return Key(collection);
    }

    public async Task<bool> EnsureCollectionAsync(string collection, int? dimensions, CancellationToken ct)
    {
        if (!RagCluster.Grains.Naming.Names.IsName(collection)) throw new CliException("collection names are " + RagCluster.Grains.Naming.Names.NameRule);
        var grain = _silo.GetGrain<ICollectionGrain>(Key(collection));
        if (await grain.Exists()) return false;
        var defaults = _host.Services.GetRequiredService<RagCluster.Grains.Collections.CollectionDefaults>();
        await grain.Create(new CollectionSettings(defaults.ShardCount, defaults.ChunkMaxTokens, defaults.ChunkOverlapTokens) { Dimensions = dimensions });
        await _silo.GetGrain<ITenantGrain>(TenantScope.DefaultTenant).AddCollection(collection);
        return true;
    }

    public async Task<DocumentStatus> IngestAsync(string collection, string id, IngestRequest request, CancellationToken ct) =>
        await _silo.GetGrain<IDocumentGrain>($"{await Existing(collection)}/{id}").Ingest(request);

    public async Task<BatchItem[]> IngestManyAsync(string collection, IReadOnlyList<(string Id, IngestRequest Request)> documents, CancellationToken ct)
    {
        var stored = await RagCluster.Grains.Documents.DocumentBatch.IngestAsync(_silo, await Existing(collection), documents, ct);
        return documents.Select((d, i) => new BatchItem(d.Id, stored[i].Status?.Status ?? "rejected",
            stored[i].Refusal is { } r ? $"{r.Title}: {r.Detail}" : null,
            stored[i].Refusal is { Retryable: true } ? StorageUnavailableException.RetryAfterSeconds : null)).ToArray();
    }

    public async Task<DocumentStatus[]> StatusManyAsync(string collection, IReadOnlyList<string> ids, CancellationToken ct)
    {
        var key = await Existing(collection);
        return await Task.WhenAll(ids.Select(id => _silo.GetGrain<IDocumentGrain>($"{key}/{id}").GetStatus()));
    }

    public async Task<DocumentStatus> StatusAsync(string collection, string id, CancellationToken ct) =>
        await _silo.GetGrain<IDocumentGrain>($"{await Existing(collection)}/{id}").GetStatus();

    public async Task<SearchResponse> SearchAsync(string collection, SearchRequest request, CancellationToken ct) =>
        await _silo.GetGrain<IQueryPlanGrain>(await Existing(collection)).Search(request);

    public async Task<(string, Citation[], string)> AskAsync(string collection, string question, int topK, CancellationToken ct)
    {
        var search = await SearchAsync(collection, new SearchRequest(question, topK, [], null), ct);
        var answer = ExtractiveAnswerer.Answer(question, search.Hits);
        return (answer.Text, answer.Citations, search.Plan);
    }

    public async Task<CollectionInfo> CollectionAsync(string collection, CancellationToken ct) =>
        await _silo.GetGrain<ICollectionGrain>(await Existing(collection)).GetInfo() with { Collection = collection };

    public Task<ApiKeyInfo> CreateKeyAsync(string tenant, string role, string description, CancellationToken ct) =>
        _silo.GetGrain<IApiKeyGrain>(ApiKeyFormat.NewKeyId()).Create(tenant, role, description);

    public async Task<ApiKeyInfo[]> ListKeysAsync(string? tenant, CancellationToken ct)
    {
        var ids = await _silo.GetGrain<ITenantGrain>(tenant ?? TenantScope.DefaultTenant).KeyIds();
        return (await Task.WhenAll(ids.Select(id => _silo.GetGrain<IApiKeyGrain>(id).GetInfo()))).OfType<ApiKeyInfo>().ToArray();
    }

    public async Task<ApiKeyInfo> RotateKeyAsync(string keyId, CancellationToken ct) => await (await ExistingKey(keyId)).Rotate();

    public async Task<ApiKeyInfo> RevokeKeyAsync(string keyId, CancellationToken ct) => await (await ExistingKey(keyId)).Revoke();

    public async Task DropCollectionAsync(string collection, CancellationToken ct)
    {
        await Existing(collection);
        await RagCluster.Grains.Collections.CollectionDeletion.DeleteAsync(_silo, TenantScope.DefaultTenant, collection, ct);
    }

    public async Task<BackupSummary> BackupAsync(string collection, string file, CancellationToken ct)
    {
        var key = await Existing(collection);
        await using var output = File.Create(file);
        var m = await CollectionArchive.WriteAsync(_silo, key, collection, output, ct);
        return new BackupSummary(collection, m.Documents, m.Chunks, m.Skipped);
    }

    public async Task<BackupSummary> RestoreAsync(string collection, string file, CancellationToken ct)
    {
        await using var input = File.OpenRead(file);
        var m = await CollectionArchive.RestoreAsync(_silo, TenantScope.DefaultTenant, collection, input, ct);
        return new BackupSummary(collection, m.Documents, m.Chunks, m.Skipped);
    }

    private async Task<IApiKeyGrain> ExistingKey(string keyId)
    {
        var key = _silo.GetGrain<IApiKeyGrain>(keyId);
        if (!ApiKeyFormat.IsKeyId(keyId) || await key.GetInfo() is null) throw new CliException($"no API key '{keyId}'");
        return key;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync(CancellationToken.None);
        _host.Dispose();
    }
}

/// <summary>A running cluster's HTTP API (src/Api).</summary>
public sealed class HttpBackend : IRagBackend
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient _http;

    public HttpBackend(string baseUrl, string? apiKey)
    {
        _http = new HttpClient { BaseAddress = new Uri(baseUrl.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(2) };
        if (apiKey is { Length: > 0 }) _http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
    }

    public string Describe() => $"cluster API at {_http.BaseAddress}";

    private static async Task<JsonElement> Read(HttpResponseMessage r, CancellationToken ct)
    {
        var body = await r.Content.ReadAsStringAsync(ct);
        if (!r.IsSuccessStatusCode)
        {
            var detail = body;
            try
            {
                var p = JsonDocument.Parse(body).RootElement;
                detail = $"{p.GetProperty("title").GetString()}: {(p.TryGetProperty("detail", out var d) ? d.GetString() : "")}";
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
            }
            if (r.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
                throw new CliUnavailableException($"503 {detail}", (int?)r.Headers.RetryAfter?.Delta?.TotalSeconds ?? 1);
            throw new CliException($"{(int)r.StatusCode} {detail}");
        }
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement;
    }

    public async Task<DocumentStatus> IngestAsync(string collection, string id, IngestRequest request, CancellationToken ct)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent(request.Content), "file", request.FileName ?? id);
        form.Add(new StringContent(id), "id");
        form.Add(new StringContent(request.Format), "format");
        form.Add(new StringContent(string.Join(',', request.Tags.Select(t => $"{t.Key}={t.Value}"))), "tags");
        var r = await Read(await _http.PostAsync($"v1/collections/{collection}/documents", form, ct), ct);
        return new DocumentStatus(collection, id, r.GetProperty("status").GetString()!, r.GetProperty("version").GetInt64(), 0, null, null, DateTimeOffset.UtcNow);
    }

    public async Task<BatchItem[]> IngestManyAsync(string collection, IReadOnlyList<(string Id, IngestRequest Request)> documents, CancellationToken ct)
    {
        var body = new
        {
            documents = documents.Select(d => d.Request.Format == OwnVectorChunks.Format
                // Vectors as the API's compact form: each chunk's float32 values in base64.
                ? (object)new { id = d.Id, tags = d.Request.Tags, chunks = OwnVectorChunks.Decode(d.Request.Content).Chunks.Select(c => new { text = c.Text, vectorBase64 = OwnVectorChunks.ToBase64(c.Vector) }) }
                : new { id = d.Id, format = d.Request.Format, contentBase64 = Convert.ToBase64String(d.Request.Content), tags = d.Request.Tags }),
        };
        var r = await Read(await _http.PostAsJsonAsync($"v1/collections/{collection}/documents", body, Json, ct), ct);
        return r.GetProperty("documents").EnumerateArray().Select((d, i) =>
        {
            var refused = d.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object;
            return new BatchItem(documents[i].Id, d.GetProperty("status").GetString()!,
                refused ? $"{e.GetProperty("title").GetString()}: {e.GetProperty("detail").GetString()}" : null,
                refused && e.TryGetProperty("retryAfter", out var after) && after.ValueKind == JsonValueKind.Number ? after.GetInt32() : null);
        }).ToArray();
    }

    public async Task<DocumentStatus[]> StatusManyAsync(string collection, IReadOnlyList<string> ids, CancellationToken ct)
    {
        var r = await Read(await _http.PostAsJsonAsync($"v1/collections/{collection}/documents/statuses", new { ids }, Json, ct), ct);
        return r.GetProperty("documents").EnumerateArray().Select(d => new DocumentStatus(collection, d.GetProperty("documentId").GetString()!,
            d.GetProperty("status").GetString()!, d.GetProperty("version").GetInt64(), d.GetProperty("chunkCount").GetInt32(),
            d.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null, null, DateTimeOffset.UtcNow)).ToArray();
    }

    public async Task<DocumentStatus> StatusAsync(string collection, string id, CancellationToken ct)
    {
        var r = await Read(await _http.GetAsync($"v1/collections/{collection}/documents/{Uri.EscapeDataString(id)}", ct), ct);
        return new DocumentStatus(collection, id, r.GetProperty("status").GetString()!, r.GetProperty("version").GetInt64(),
            r.GetProperty("chunkCount").GetInt32(), r.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null, null, DateTimeOffset.UtcNow);
    }

    public async Task<SearchResponse> SearchAsync(string collection, SearchRequest request, CancellationToken ct)
    {
        var r = await Read(await _http.PostAsJsonAsync($"v1/collections/{collection}/search",
            new { query = request.Query, topK = request.TopK, filter = request.Filter, plan = request.Plan }, Json, ct), ct);
        var hits = r.GetProperty("hits").EnumerateArray().Select(h => new SearchHit(h.GetProperty("documentId").GetString()!, h.GetProperty("chunkId").GetString()!,
            0, h.GetProperty("start").GetInt32(), h.GetProperty("end").GetInt32(), h.GetProperty("text").GetString()!,
            h.GetProperty("headingPath").EnumerateArray().Select(x => x.GetString()!).ToArray(), h.GetProperty("score").GetDouble())).ToArray();
        return new SearchResponse(r.GetProperty("plan").GetString()!, hits, r.GetProperty("cached").GetBoolean(), r.GetProperty("elapsedMs").GetDouble(), [],
            r.TryGetProperty("cacheTier", out var tier) && tier.ValueKind == JsonValueKind.String ? tier.GetString() : null);
    }

    public async Task<(string, Citation[], string)> AskAsync(string collection, string question, int topK, CancellationToken ct)
    {
        var r = await Read(await _http.PostAsJsonAsync($"v1/collections/{collection}/ask", new { question, topK }, Json, ct), ct);
        var citations = r.GetProperty("citations").EnumerateArray().Select(c => new Citation(c.GetProperty("number").GetInt32(), c.GetProperty("documentId").GetString()!,
            c.GetProperty("chunkId").GetString()!, c.GetProperty("start").GetInt32(), c.GetProperty("end").GetInt32(), c.GetProperty("score").GetDouble(),
            c.GetProperty("quote").GetString()!)).ToArray();
        return (r.GetProperty("answer").GetString()!, citations, r.GetProperty("plan").GetString()!);
    }

    public async Task<CollectionInfo> CollectionAsync(string collection, CancellationToken ct)
    {
        var r = await Read(await _http.GetAsync($"v1/collections/{collection}", ct), ct);
        return r.Deserialize<CollectionInfo>(Json)!;
    }

    public async Task<bool> EnsureCollectionAsync(string collection, int? dimensions, CancellationToken ct)
    {
        var r = await _http.PostAsJsonAsync("v1/collections", new { name = collection, dimensions }, Json, ct);
        if (r.StatusCode == System.Net.HttpStatusCode.Conflict) return false;
        await Read(r, ct);
        return true;
    }

    public async Task<ApiKeyInfo> CreateKeyAsync(string tenant, string role, string description, CancellationToken ct) =>
        KeyInfo(await Read(await _http.PostAsJsonAsync("v1/admin/keys", new { tenant, role, description }, Json, ct), ct));

    public async Task<ApiKeyInfo[]> ListKeysAsync(string? tenant, CancellationToken ct) =>
        (await Read(await _http.GetAsync("v1/admin/keys" + (tenant is null ? "" : "?tenant=" + Uri.EscapeDataString(tenant)), ct), ct))
        .EnumerateArray().Select(KeyInfo).ToArray();

    public async Task<ApiKeyInfo> RotateKeyAsync(string keyId, CancellationToken ct) =>
        KeyInfo(await Read(await _http.PostAsync($"v1/admin/keys/{Uri.EscapeDataString(keyId)}/rotate", null, ct), ct));

    public async Task<ApiKeyInfo> RevokeKeyAsync(string keyId, CancellationToken ct) =>
        KeyInfo(await Read(await _http.DeleteAsync($"v1/admin/keys/{Uri.EscapeDataString(keyId)}", ct), ct));

    public async Task DropCollectionAsync(string collection, CancellationToken ct) =>
        await Read(await _http.DeleteAsync($"v1/collections/{Uri.EscapeDataString(collection)}", ct), ct);

    public async Task<BackupSummary> BackupAsync(string collection, string file, CancellationToken ct)
    {
        using var r = await _http.GetAsync($"v1/collections/{collection}/backup", HttpCompletionOption.ResponseHeadersRead, ct);
        if (!r.IsSuccessStatusCode) await Read(r, ct);
        await using (var output = File.Create(file))
            await r.Content.CopyToAsync(output, ct);
        await using var check = File.OpenRead(file);
        var m = CollectionArchive.Verify(check); // what arrived is what the server wrote
        return new BackupSummary(collection, m.Documents, m.Chunks, m.Skipped);
    }

    public async Task<BackupSummary> RestoreAsync(string collection, string file, CancellationToken ct)
    {
        await using (var check = File.OpenRead(file)) CollectionArchive.Verify(check); // fail here rather than after the upload
        await using var input = File.OpenRead(file);
        using var content = new StreamContent(input);
        content.Headers.ContentType = new("application/zip");
        var r = await Read(await _http.PostAsync($"v1/restore/{Uri.EscapeDataString(collection)}", content, ct), ct);
        return new BackupSummary(collection, r.GetProperty("documents").GetInt32(), r.GetProperty("chunks").GetInt32(),
            r.GetProperty("skipped").EnumerateArray().Select(x => x.GetString()!).ToArray());
    }

    private static ApiKeyInfo KeyInfo(JsonElement k) => new(k.GetProperty("keyId").GetString()!, k.GetProperty("tenant").GetString()!,
        k.GetProperty("role").GetString()!, k.GetProperty("description").GetString() ?? "", k.GetProperty("createdAt").GetDateTimeOffset(),
        k.GetProperty("revokedAt").ValueKind == JsonValueKind.Null ? null : k.GetProperty("revokedAt").GetDateTimeOffset(),
        k.GetProperty("key").ValueKind == JsonValueKind.String ? k.GetProperty("key").GetString() : null);

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>An error the CLI reports as one line (exit code 1).</summary>
public class CliException(string message) : Exception(message);

/// <summary>The API answered 503: nothing of the request was kept, and it may be sent again after <see cref="RetryAfter"/> seconds.</summary>
public sealed class CliUnavailableException(string message, int retryAfter) : CliException(message)
{
    public int RetryAfter { get; } = Math.Max(1, retryAfter);
}
