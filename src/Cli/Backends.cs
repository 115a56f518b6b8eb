using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RagCluster.Api;
using RagCluster.Grains.Backup;
using RagCluster.Grains.Interfaces.Aliases;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Metadata;

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
    /// <summary>An answer with citations; <paramref name="history"/>: the earlier turns of a conversation the CLI keeps (a follow-up's context).</summary>
    Task<(string Answer, Citation[] Citations, string Plan)> AskAsync(string collection, string question, int topK, string? filter, CancellationToken ct,
        IReadOnlyList<(string Question, string Answer)>? history = null);
    Task<CollectionInfo> CollectionAsync(string collection, CancellationToken ct);
    /// <summary>Creates the collection unless it exists; true when it was created.</summary>
    /// <param name="collection">Its name.</param>
    /// <param name="dimensions">For a new collection: set to bring its own vectors of this dimension (null: the cluster's model).</param>
    /// <param name="ct">Cancels the call.</param>
    /// <param name="accessField">For a new collection: the tag naming each document's reader groups (null: none).</param>
    Task<bool> EnsureCollectionAsync(string collection, int? dimensions, CancellationToken ct, string? accessField = null);
    Task<ApiKeyInfo> CreateKeyAsync(string tenant, string role, string description, string[] groups, CancellationToken ct);
    /// <summary>Creates the alias or moves it to <paramref name="collection"/> in one step.</summary>
    Task<CollectionAlias> SetAliasAsync(string alias, string collection, CancellationToken ct);
    Task<CollectionAlias[]> ListAliasesAsync(CancellationToken ct);
    /// <summary>Deletes the alias (not its collection); false when there was none.</summary>
    Task<bool> DeleteAliasAsync(string alias, CancellationToken ct);
    /// <summary>Replaces the key's groups (its read rights in collections with an access field).</summary>
    Task<ApiKeyInfo> SetKeyGroupsAsync(string keyId, string[] groups, CancellationToken ct);
    Task<ApiKeyInfo[]> ListKeysAsync(string? tenant, CancellationToken ct);
    Task<ApiKeyInfo> RotateKeyAsync(string keyId, CancellationToken ct);
    Task<ApiKeyInfo> RevokeKeyAsync(string keyId, CancellationToken ct);
    /// <summary>Replaces what the tenant may store (each null: unlimited); an operator's.</summary>
    Task<TenantLimits> SetTenantLimitsAsync(string tenant, TenantLimits limits, CancellationToken ct);
    Task<TenantUsage> TenantUsageAsync(string tenant, CancellationToken ct);
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
/// The embedded default: the API silo itself (<see cref="ApiHost.BuildEmbedded"/>: one Orleans silo and the HTTP API)
/// in this process on the local SQLite store (the same data the API's embedded default uses; run one of them at a
/// time), called over loopback like any cluster, so every rule of every operation is the API's own (issue 83: no
/// second copy of them here). It acts as the operator of that store with a key that lives only as long as this
/// process: collections are those of tenant "default" (the same ones the API's bootstrap admin key sees), and it sees
/// every document.
/// </summary>
public static class EmbeddedApi
{
    public static async Task<HttpBackend> StartAsync(string dataDir, string? model, CancellationToken ct)
    {
        var key = "rck_embedded_" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)); // never stored: the API compares it in memory
        var host = ApiHost.BuildEmbedded(dataDir, model ?? Environment.GetEnvironmentVariable("RAGCLUSTER_MODEL"), key, logging =>
        {
            // Its log on stderr, errors only: stdout is the command's output.
            logging.ClearProviders();
            logging.AddSimpleConsole(o => o.SingleLine = true);
            logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        });
        var embedding = await host.StartAsync(ct);
        var url = host.App.Urls.First();
        var silo = host.App.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        return new HttpBackend(url, key, $"embedded API silo on {url} ({silo}); {embedding}", async () =>
        {
            await host.App.StopAsync(CancellationToken.None);
            await host.App.DisposeAsync();
        });
    }
}

/// <summary>
/// A cluster behind its HTTP API, through RagCluster.Client. The client sends nothing again by itself here: the CLI
/// paces resends of refused documents itself (and says so), so a 503 comes back as <see cref="CliUnavailableException"/>.
/// </summary>
public sealed class HttpBackend : IRagBackend
{
    private readonly RagCluster.Client.RagClusterClient _client;
    private readonly string? _description;
    private readonly Func<Task>? _stopServer;

    /// <param name="baseUrl">The API's address.</param>
    /// <param name="apiKey">The key it is called with.</param>
    /// <param name="description">What <see cref="Describe"/> says (null: the API's address).</param>
    /// <param name="stopServer">For an API this process hosts: stops it once the client is done.</param>
    public HttpBackend(string baseUrl, string? apiKey, string? description = null, Func<Task>? stopServer = null)
    {
        _client = new RagCluster.Client.RagClusterClient(new Uri(baseUrl.TrimEnd('/') + "/"), new RagCluster.Client.RagClusterClientOptions { ApiKey = apiKey, MaxRetries = 0 });
        (_description, _stopServer) = (description, stopServer);
    }

    public string Describe() => _description ?? $"cluster API at {_client.BaseAddress}";

    /// <summary>The API's problem as the CLI's one-line error ("404 Not found: …"); a 503 says when to send again.</summary>
    private static async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (RagCluster.Client.RagClusterException e) when (e.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
        {
            throw new CliUnavailableException(e.Message, (int)(e.RetryAfter?.TotalSeconds ?? 1));
        }
        catch (RagCluster.Client.RagClusterException e)
        {
            throw new CliException(e.Message);
        }
    }

    private static Task Call(Func<Task> call) => Call(async () => { await call(); return true; });

    // A form's tags are text, typed again by the server as the collection declares, as the CLI typed them here.
    private static Dictionary<string, string> AsText(Dictionary<string, string> stored) =>
        stored.ToDictionary(t => t.Key, t => TagValue.FromStored(t.Value) is var v && v.Kind == TagKind.StringArray ? string.Join('|', v.Items) : v.ToString());

    private static DocumentStatus Status(string collection, RagCluster.Client.DocumentStatusReply s) =>
        new(collection, s.DocumentId, s.Status, s.Version, s.ChunkCount, s.Error, null, s.UpdatedAt);

    public Task<DocumentStatus> IngestAsync(string collection, string id, IngestRequest request, CancellationToken ct) => Call(async () =>
    {
        var accepted = await _client.UploadFileAsync(collection, new MemoryStream(request.Content), request.FileName ?? id, id, AsText(request.Tags), request.Format, ct);
        return new DocumentStatus(collection, id, accepted.Status, accepted.Version, 0, null, null, DateTimeOffset.UtcNow);
    });

    public Task<BatchItem[]> IngestManyAsync(string collection, IReadOnlyList<(string Id, IngestRequest Request)> documents, CancellationToken ct) => Call(async () =>
    {
        var inputs = documents.Select(d => d.Request.Format == OwnVectorChunks.Format
            // Vectors as the API's compact form: each chunk's float32 values in base64.
            ? new RagCluster.Client.DocumentInput(d.Id)
            {
                Tags = TagRules.ToJson(d.Request.Tags),
                Chunks = OwnVectorChunks.Decode(d.Request.Content).Chunks.Select(c => new RagCluster.Client.ChunkInput(c.Text) { VectorBase64 = OwnVectorChunks.ToBase64(c.Vector) }).ToList(),
            }
            : new RagCluster.Client.DocumentInput(d.Id) { Format = d.Request.Format, ContentBase64 = Convert.ToBase64String(d.Request.Content), Tags = TagRules.ToJson(d.Request.Tags) }).ToList();
        var reply = await _client.IngestBatchAsync(collection, inputs, ct);
        return reply.Documents.Select((d, i) => new BatchItem(documents[i].Id, d.Status, d.Error is { } e ? $"{e.Title}: {e.Detail}" : null, d.Error?.RetryAfter)).ToArray();
    });

    public Task<DocumentStatus[]> StatusManyAsync(string collection, IReadOnlyList<string> ids, CancellationToken ct) => Call(async () =>
        (await _client.GetDocumentStatusesAsync(collection, ids, ct)).Select(s => Status(collection, s)).ToArray());

    public Task<DocumentStatus> StatusAsync(string collection, string id, CancellationToken ct) => Call(async () =>
        Status(collection, await _client.GetDocumentAsync(collection, id, ct)));

    public Task<SearchResponse> SearchAsync(string collection, SearchRequest request, CancellationToken ct) => Call(async () =>
    {
        var r = await _client.SearchAsync(collection, new RagCluster.Client.SearchRequest(request.Query) 
        {
            TopK = request.TopK, Filter = request.Filter is null ? null : System.Text.Json.JsonDocument.Parse(request.Filter).RootElement, Plan = request.Plan,
            GroupBy = request.GroupBy, GroupSize = request.GroupSize, ScoreThreshold = request.ScoreThreshold, Offset = request.Offset,
            Fusion = request.Fusion, Alpha = request.Alpha,
        }, ct);
        static SearchHit Hit(RagCluster.Client.SearchHitReply h) => new(h.DocumentId, h.ChunkId, 0, h.Start, h.End, h.Text, h.HeadingPath, h.Score);
        return new SearchResponse(r.Plan, r.Hits.Select(Hit).ToArray(), r.Cached, r.ElapsedMs, r.CandidatePlans, r.CacheTier)
            { Groups = r.Groups?.Select(g => new SearchGroup(g.DocumentId, g.Score, g.Hits.Select(Hit).ToArray())).ToArray() };
    });

    public Task<(string Answer, Citation[] Citations, string Plan)> AskAsync(string collection, string question, int topK, string? filter, CancellationToken ct,
        IReadOnlyList<(string Question, string Answer)>? history = null) => Call(async () =>
    {
        var r = await _client.AskAsync(collection, new RagCluster.Client.AskRequest(question)
        {
            TopK = topK, Filter = filter is null ? null : System.Text.Json.JsonDocument.Parse(filter).RootElement,
            History = history?.Select(t => new RagCluster.Client.AskTurn(t.Question, t.Answer)).ToArray(),
        }, ct);
        return (r.Answer, r.Citations.Select(c => new Citation(c.Number, c.DocumentId, c.ChunkId, c.Start, c.End, c.Score, c.Quote)).ToArray(), r.Plan);
    });

    public Task<CollectionInfo> CollectionAsync(string collection, CancellationToken ct) => Call(async () =>
    {
        var r = await _client.GetCollectionAsync(collection, ct);
        var s = r.Settings;
        var settings = new CollectionSettings(s.ShardCount, s.ChunkMaxTokens, s.ChunkOverlapTokens)
        {
            Dimensions = s.Dimensions, LayoutGeneration = s.LayoutGeneration, Quantization = s.Quantization, Fields = s.Fields, AccessField = s.AccessField,
            ReshardingTo = s.ReshardingTo is { } to ? new ShardLayout(to.Generation, to.ShardCount) : null,
        };
        // -1: the server does not tell this key (a collection with an access field counts documents the key may not see).
        return new CollectionInfo(r.Collection, settings, r.Version, r.DocumentCount ?? -1)
        {
            UnsettledCount = r.UnsettledCount ?? -1,
            Resharding = r.Resharding is { } p ? new ReshardProgress(p.ShardCount, p.OldShardsCopied, p.OldShards, p.ChunksCopied) : null,
        };
    });

    public Task<bool> EnsureCollectionAsync(string collection, int? dimensions, CancellationToken ct, string? accessField = null) =>
        Call(() => _client.EnsureCollectionAsync(new RagCluster.Client.CreateCollectionRequest(collection) { Dimensions = dimensions, AccessField = accessField }, ct));

    public Task<ApiKeyInfo> CreateKeyAsync(string tenant, string role, string description, string[] groups, CancellationToken ct) => Call(async () =>
        KeyInfo(await _client.CreateKeyAsync(new RagCluster.Client.CreateKeyRequest(role) { Tenant = tenant, Description = description, Groups = groups }, ct)));

    public Task<ApiKeyInfo> SetKeyGroupsAsync(string keyId, string[] groups, CancellationToken ct) => Call(async () => KeyInfo(await _client.SetKeyGroupsAsync(keyId, groups, ct)));

    public Task<CollectionAlias> SetAliasAsync(string alias, string collection, CancellationToken ct) => Call(async () => AliasOf(await _client.SetAliasAsync(alias, collection, ct)));

    public Task<CollectionAlias[]> ListAliasesAsync(CancellationToken ct) => Call(async () => (await _client.ListAliasesAsync(ct)).Select(AliasOf).ToArray());

    public Task<bool> DeleteAliasAsync(string alias, CancellationToken ct) => Call(async () =>
    {
        try { await _client.DeleteAliasAsync(alias, ct); return true; }
        catch (RagCluster.Client.RagClusterException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound) { return false; }
    });

    private static CollectionAlias AliasOf(RagCluster.Client.AliasReply a) => new(a.Alias, a.Collection, a.UpdatedAt);

    public Task<TenantLimits> SetTenantLimitsAsync(string tenant, TenantLimits limits, CancellationToken ct) => Call(async () =>
        LimitsOf(await _client.SetTenantLimitsAsync(tenant, new(limits.Collections, limits.Documents, limits.Vectors, limits.Bytes), ct)));

    public Task<TenantUsage> TenantUsageAsync(string tenant, CancellationToken ct) => Call(async () =>
    {
        var u = await _client.GetTenantUsageAsync(tenant, ct);
        return new TenantUsage(u.Tenant, u.Collections, new(u.Documents, u.Vectors, u.Bytes),
            u.ByCollection.ToDictionary(c => c.Key, c => new StoredUsage(c.Value.Documents, c.Value.Vectors, c.Value.Bytes)), LimitsOf(u.Limits));
    });

    private static TenantLimits LimitsOf(RagCluster.Client.TenantLimits l) => new(l.Collections, l.Documents, l.Vectors, l.Bytes);

    public Task<ApiKeyInfo[]> ListKeysAsync(string? tenant, CancellationToken ct) => Call(async () =>
        (await _client.ListKeysAsync(tenant, ct)).Select(KeyInfo).ToArray());

    public Task<ApiKeyInfo> RotateKeyAsync(string keyId, CancellationToken ct) => Call(async () => KeyInfo(await _client.RotateKeyAsync(keyId, ct)));

    public Task<ApiKeyInfo> RevokeKeyAsync(string keyId, CancellationToken ct) => Call(async () => KeyInfo(await _client.RevokeKeyAsync(keyId, ct)));

    public Task DropCollectionAsync(string collection, CancellationToken ct) => Call(() => _client.DeleteCollectionAsync(collection, ct));

    public Task<BackupSummary> BackupAsync(string collection, string file, CancellationToken ct) => Call(async () =>
    {
        await using (var output = File.Create(file))
            await _client.BackupAsync(collection, output, ct);
        await using var check = File.OpenRead(file);
        var m = CollectionArchive.Verify(check); // what arrived is what the server wrote
        return new BackupSummary(collection, m.Documents, m.Chunks, m.Skipped);
    });

    public Task<BackupSummary> RestoreAsync(string collection, string file, CancellationToken ct) => Call(async () =>
    {
        await using (var check = File.OpenRead(file)) CollectionArchive.Verify(check); // fail here rather than after the upload
        await using var input = File.OpenRead(file);
        var r = await _client.RestoreAsync(collection, input, ct);
        return new BackupSummary(collection, r.Documents, r.Chunks, r.Skipped);
    });

    private static ApiKeyInfo KeyInfo(RagCluster.Client.ApiKeyReply k) => new(k.KeyId, k.Tenant, k.Role, k.Description, k.CreatedAt, k.RevokedAt, k.Key) { Groups = k.Groups };

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        if (_stopServer is not null) await _stopServer();
    }
}

/// <summary>An error the CLI reports as one line (exit code 1).</summary>
public class CliException(string message) : Exception(message);

/// <summary>The API answered 503: nothing of the request was kept, and it may be sent again after <see cref="RetryAfter"/> seconds.</summary>
public sealed class CliUnavailableException(string message, int retryAfter) : CliException(message)
{
    public int RetryAfter { get; } = Math.Max(1, retryAfter);
}
