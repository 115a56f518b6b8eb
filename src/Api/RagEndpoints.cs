using System.Text.Json;
using System.Text.RegularExpressions;
using RagCluster.Api.Auth;
using RagCluster.Api.Dashboard;
using RagCluster.Api.Limits;
using RagCluster.Grains.Backup;
using RagCluster.Grains.Caching;
using RagCluster.Grains.Collections;
using RagCluster.Grains.Documents;
using RagCluster.Grains.Security;
using RagCluster.Grains.Extraction;
using RagCluster.Grains.Naming;
using RagCluster.Grains.OwnVectors;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Rag;
using RagCluster.Grains.Querying;
using Orleans;

namespace RagCluster.Api;

/// <summary>One document as JSON: text (txt, md, html, json), or any format as contentBase64 (pdf, docx too).</summary>
public sealed record IngestJson(string? Id, string? Text, Dictionary<string, string>? Tags, string? Format, string? ContentBase64, List<ChunkJson?>? Chunks = null);
/// <summary>A chunk with its own vector (collections created with "dimensions"): "vector" as numbers or "vectorBase64" as little-endian float32.</summary>
public sealed record ChunkJson(string? Text, float[]? Vector, string? VectorBase64);
/// <summary>The body of POST .../documents: one document, or up to <see cref="DocumentBatch.MaxDocuments"/> in "documents".</summary>
public sealed record IngestBody(string? Id, string? Text, Dictionary<string, string>? Tags, string? Format, string? ContentBase64, List<IngestJson?>? Documents,
    List<ChunkJson?>? Chunks = null)
{
    public IngestJson Single => new(Id, Text, Tags, Format, ContentBase64, Chunks);
}
public sealed record StatusesJson(List<string?>? Ids);
/// <summary>Why one document of a request was refused: an HTTP status, title and detail as in a problem.</summary>
public sealed record IngestRejection(int Status, string Title, string Detail, int? RetryAfter = null);
public sealed record SearchJson(string? Query, int? TopK, Dictionary<string, string>? Filter, string? Plan, float[]? Vector = null, string? VectorBase64 = null, int? Ef = null);
public sealed record AskJson(string? Question, int? TopK, bool? Stream, Dictionary<string, string>? Filter);
public sealed record CollectionJson(int? ShardCount, int? ChunkMaxTokens, int? ChunkOverlapTokens);
public sealed record CreateCollectionJson(string? Name, int? ShardCount, int? ChunkMaxTokens, int? ChunkOverlapTokens, int? Dimensions = null,
    string? Quantization = null);

/// <summary>
/// The collection a request names, scoped to the caller's tenant: <see cref="Name"/> as the caller knows it,
/// <see cref="Key"/> the grain key ("tenant.name").
/// </summary>
public sealed record CollectionRef(string Name, string Key, string Tenant)
{
    /// <summary>The collection of the caller's tenant, or (an operator's request with <c>?tenant=</c>) of the tenant named.</summary>
    public static ValueTask<CollectionRef?> BindAsync(HttpContext http)
    {
        var name = http.GetRouteValue("collection") as string ?? "";
        var asked = http.Request.Query["tenant"].ToString();
        var tenant = asked.Length > 0 ? asked : http.User.Tenant() ?? "";
        return ValueTask.FromResult<CollectionRef?>(new CollectionRef(name, TenantScope.CollectionKey(tenant, name), tenant));
    }

    public static async ValueTask<object?> RequireExisting(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var c = context.Arguments.OfType<CollectionRef>().FirstOrDefault()
                ?? throw new InvalidOperationException("collection endpoints take a CollectionRef");
        if (RagEndpoints.Valid(c.Name) is { } bad) return bad;
        var user = context.HttpContext.User;
        // Another tenant's collection is an operator's to reach; to anyone else it does not exist.
        var visible = c.Tenant == user.Tenant() || (Admin.AdminEndpoints.MaySee(user, c.Tenant) && Grains.Naming.Names.IsName(c.Tenant));
        var grains = context.HttpContext.RequestServices.GetRequiredService<IGrainFactory>();
        if (!visible || !await grains.GetGrain<ICollectionGrain>(c.Key).Exists())
            return RagEndpoints.Problem(404, "Collection not found", $"no collection '{c.Name}'; create it with POST /v1/collections");
        return await next(context);
    }
}

/// <summary>The /v1 collection, document, search and ask endpoints. Every failure is an RFC 7807 problem.</summary>
public static partial class RagEndpoints
{
    public const long MaxUploadBytes = 50L * 1024 * 1024;
    public const long MaxRestoreBytes = 4L * 1024 * 1024 * 1024;

    public static void MapRagEndpoints(this WebApplication app)
    {
        app.MapGet("/v1/collections", async (HttpContext http, IGrainFactory grains) =>
            Results.Ok(await grains.GetGrain<ITenantGrain>(http.User.RequiredTenant()).Collections())).RequireAuthorization(AuthSetup.Reader);

        app.MapPost("/v1/collections", async (HttpContext http, IGrainFactory grains, CollectionDefaults defaults) =>
        {
            var (body, error) = await ReadJson<CreateCollectionJson>(http.Request);
            if (error is not null) return error;
            if (body!.Name is null) return Problem(400, "Missing name", "the JSON body needs \"name\"");
            if (Valid(body.Name) is { } bad) return bad;
            var tenant = http.User.RequiredTenant();
            var settings = new CollectionSettings(body.ShardCount ?? defaults.ShardCount, body.ChunkMaxTokens ?? defaults.ChunkMaxTokens,
                body.ChunkOverlapTokens ?? defaults.ChunkOverlapTokens) { Dimensions = body.Dimensions, Quantization = body.Quantization };
            var created = await grains.GetGrain<ICollectionGrain>(TenantScope.CollectionKey(tenant, body.Name)).Create(settings);
            await grains.GetGrain<ITenantGrain>(tenant).AddCollection(body.Name);
            return Results.Created($"/v1/collections/{body.Name}", new { collection = body.Name, settings = created });
        }).RequireAuthorization(AuthSetup.Writer);

        // Everything under a collection: the name is checked, scoped to the caller's tenant, and must exist (else 404,
        // which is also what another tenant's collection of that name looks like).
        var v1 = app.MapGroup("/v1/collections/{collection}").AddEndpointFilter(CollectionRef.RequireExisting);

        v1.MapGet("", async (CollectionRef c, IGrainFactory grains) =>
        {
            var info = await grains.GetGrain<ICollectionGrain>(c.Key).GetInfo();
            return Results.Ok(new { collection = c.Name, settings = info.Settings, version = info.Version, documentCount = info.DocumentCount,
                unsettledCount = info.UnsettledCount, resharding = info.Resharding });
        }).RequireAuthorization(AuthSetup.Reader);

        // The registry a page at a time: pass "next" back as "after" until it is null.
        v1.MapGet("/documents", async (CollectionRef c, string? after, int? limit, IGrainFactory grains) =>
        {
            if (limit is < 1 or > 10_000) return Problem(400, "Invalid limit", "limit must be 1..10000");
            var page = await grains.GetGrain<ICollectionGrain>(c.Key).ListDocuments(after, limit ?? 1000);
            return Results.Ok(new { documentIds = page.DocumentIds, next = page.Next });
        }).RequireAuthorization(AuthSetup.Reader);

        v1.MapPut("", async (CollectionRef c, HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await ReadJson<CollectionJson>(request);
            if (error is not null) return error;
            var current = (await grains.GetGrain<ICollectionGrain>(c.Key).GetInfo()).Settings;
            var settings = new CollectionSettings(body!.ShardCount ?? current.ShardCount, body.ChunkMaxTokens ?? current.ChunkMaxTokens,
                body.ChunkOverlapTokens ?? current.ChunkOverlapTokens) { Dimensions = current.Dimensions, Quantization = current.Quantization };
            var configured = await grains.GetGrain<ICollectionGrain>(c.Key).Configure(settings);
            // A new shard count on a collection with documents is copied online: 202, and GET shows "resharding" until it ends.
            var resharding = (await grains.GetGrain<ICollectionGrain>(c.Key).GetInfo()).Resharding;
            var reply = new { collection = c.Name, settings = configured, resharding };
            return resharding is null ? Results.Ok(reply) : Results.Accepted($"/v1/collections/{c.Name}", reply);
        }).RequireAuthorization(AuthSetup.Writer);

        // Every document (their chunks leave every shard), then the collection; safe to repeat after a failure part-way.
        v1.MapDelete("", async (CollectionRef c, HttpContext http, IGrainFactory grains) =>
        {
            await CollectionDeletion.DeleteAsync(grains, c.Tenant, c.Name, http.RequestAborted);
            return Results.NoContent();
        }).RequireAuthorization(AuthSetup.Writer);

        v1.MapPost("/documents", async (CollectionRef c, HttpRequest request, IGrainFactory grains, IndexingSlots slots, ILogger<IngestBody> log) =>
        {
            IngestRequest ingest;
            string id;
            var dimensions = (await grains.GetGrain<ICollectionGrain>(c.Key).GetSettings()).Dimensions;
            if (request.HasFormContentType)
            {
                if (dimensions is { } d) return Problem(400, "Vectors required", OwnVectorsOnly(d));
                IFormCollection form;
                try
                {
                    form = await request.ReadFormAsync();
                }
                catch (Exception e) when (e is InvalidDataException or IOException)
                {
                    // A boundary that never closes, a truncated part: the client's body is broken, not the server.
                    return Problem(400, "Malformed form body", e.Message);
                }
                var file = form.Files.FirstOrDefault();
                if (file is null) return Problem(400, "No file", "multipart upload needs a file part");
                if (file.Length > MaxUploadBytes) return Problem(413, "File too large", $"files are limited to {MaxUploadBytes / 1024 / 1024} MiB");
                var format = (string?)form["format"] ?? DocumentExtractor.DetectFormat(file.FileName, file.ContentType);
                if (format is null || !DocumentExtractor.SupportedFormats.Contains(format))
                    return Problem(415, "Unsupported format", $"cannot tell the format of '{file.FileName}'; supported: {string.Join(", ", DocumentExtractor.SupportedFormats)}");
                id = (string?)form["id"] ?? Path.GetFileName(file.FileName);
                using var ms = new MemoryStream();
                await file.CopyToAsync(ms);
                ingest = new IngestRequest(format, ms.ToArray(), ParseTags(form["tags"]), file.FileName);
            }
            else
            {
                IngestBody? body;
                try
                {
                    body = await request.ReadFromJsonAsync<IngestBody>();
                }
                catch (JsonException e)
                {
                    return Problem(400, "Invalid JSON", e.Message);
                }
                catch (InvalidOperationException)
                {
                    return Problem(415, "Unsupported media type", "send application/json {\"id\",\"text\",\"tags\"}, {\"documents\":[…]} or a multipart file upload");
                }
                if (body?.Documents is { } batch)
                {
                    if (body.Text is not null || body.ContentBase64 is not null || body.Id is not null)
                        return Problem(400, "Ambiguous body", "send either one document or \"documents\", not both");
                    return await IngestBatchAsync(c, batch, dimensions, grains, slots, request.HttpContext, log);
                }
                if (body is null) return Problem(400, "Missing text", "the JSON body needs \"text\" (and \"id\")");
                var (parsed, rejection) = ParseDocument(body.Single, dimensions);
                if (rejection is not null) return Problem(rejection.Status, rejection.Title, rejection.Detail);
                (id, ingest) = parsed!.Value;
            }
            if (ValidDocumentId(id) is { } badId) return badId;
            if (ValidTags(ingest.Tags) is { } badTags) return Problem(badTags.Status, badTags.Title, badTags.Detail);
            // Paced, not refused, while this silo's backlog is full (the document's grain may refuse it all the same).
            if (!await slots.WaitForRoomAsync(1, ingest.Content.Length, request.HttpContext.RequestAborted))
                throw new IngestBacklogFullException($"this silo holds {slots.QueuedDocuments} document(s) waiting to be indexed; nothing was stored, send it again later");
            var status = await grains.GetGrain<IDocumentGrain>($"{c.Key}/{id}").Ingest(ingest);
            return Results.Accepted($"/v1/collections/{c.Name}/documents/{Uri.EscapeDataString(id)}", new { documentId = id, status = status.Status, version = status.Version });
        }).DisableAntiforgery().RequireAuthorization(AuthSetup.Writer).WithMetadata(new BodyLimit(MaxUploadBytes + 1024 * 1024));

        // Many documents' statuses in one request, so a bulk ingest can be followed without a request per document.
        v1.MapPost("/documents/statuses", async (CollectionRef c, HttpRequest request, IGrainFactory grains) =>
        {
            var (body, bad) = await ReadJson<StatusesJson>(request);
            if (bad is not null) return bad;
            if (body?.Ids is not { Count: > 0 and <= DocumentBatch.MaxDocuments } ids)
                return Problem(400, "Invalid ids", $"send {{\"ids\":[…]}} with 1..{DocumentBatch.MaxDocuments} document ids");
            if (ids.Any(i => i is null || !Names.IsDocumentId(i)))
                return Problem(400, "Invalid document id", $"'{ids.First(i => i is null || !Names.IsDocumentId(i))}': use " + Names.DocumentIdRule);
            var statuses = await Task.WhenAll(ids.Select(id => grains.GetGrain<IDocumentGrain>($"{c.Key}/{id}").GetStatus()));
            return Results.Ok(new
            {
                documents = ids.Zip(statuses, (id, s) => new
                {
                    documentId = id, status = s.Status is "unknown" or DocumentStatuses.Deleted ? "notFound" : s.Status,
                    version = s.Version, chunkCount = s.ChunkCount, error = s.Error, updatedAt = s.UpdatedAt,
                }),
            });
        }).RequireAuthorization(AuthSetup.Reader);

        v1.MapGet("/documents/{id}", async (CollectionRef c, string id, IGrainFactory grains) =>
        {
            if (ValidDocumentId(id) is { } bad) return bad;
            var s = await grains.GetGrain<IDocumentGrain>($"{c.Key}/{id}").GetStatus();
            return s.Status is "unknown" or DocumentStatuses.Deleted
                ? Problem(404, "Document not found", $"no document '{id}' in collection '{c.Name}'")
                : Results.Ok(new { documentId = id, status = s.Status, version = s.Version, chunkCount = s.ChunkCount, error = s.Error, updatedAt = s.UpdatedAt });
        }).RequireAuthorization(AuthSetup.Reader);

        v1.MapDelete("/documents/{id}", async (CollectionRef c, string id, IGrainFactory grains) =>
        {
            if (ValidDocumentId(id) is { } bad) return bad;
            // Also finishes a delete that failed part-way (the document reads as gone, but its chunks may still be in shards).
            return await grains.GetGrain<IDocumentGrain>($"{c.Key}/{id}").Delete()
                ? Results.NoContent()
                : Problem(404, "Document not found", $"no document '{id}' in collection '{c.Name}'");
        }).RequireAuthorization(AuthSetup.Writer);

        v1.MapPost("/search", async (CollectionRef c, HttpContext http, IGrainFactory grains, QueryLog queries) =>
        {
            var (body, error) = await ReadJson<SearchJson>(http.Request);
            if (error is not null) return error;
            float[]? vector = null;
            if (body!.Vector is not null || body.VectorBase64 is not null)
            {
                // Checked against the collection in its query planner; here only that it is one well-formed vector.
                (vector, var badVector) = DecodeVector(body.Vector, body.VectorBase64, "the query vector");
                if (badVector is not null) return Problem(badVector.Status, badVector.Title, badVector.Detail);
                if (body.Query is not null && ValidQuery(body.Query, body.TopK) is { } badText) return badText;
                if (body.TopK is < 1 or > 100) return Problem(400, "Invalid topK", "topK must be 1..100");
            }
            else if (ValidQuery(body.Query, body.TopK) is { } badQuery) return badQuery;
            if (body.Ef is < 1 or > 4096) return Problem(400, "Invalid ef", "ef (the HNSW search breadth) must be 1..4096");
            using var span = StartQuerySpan("search", c);
            var response = await grains.GetGrain<IQueryPlanGrain>(c.Key).Search(new SearchRequest(body.Query ?? "", body.TopK ?? 10, body.Filter ?? [], body.Plan) { Vector = vector, Ef = body.Ef });
            var traceId = Log(queries, http, c, "search", body.Query ?? $"({vector!.Length}-dimensional vector)", response, span);
            return Results.Ok(new
            {
                traceId, plan = response.Plan, cached = response.Cached, cacheTier = response.CacheTier, elapsedMs = response.ElapsedMs, candidatePlans = response.CandidatePlans,
                hits = response.Hits.Select(h => new { documentId = h.DocumentId, chunkId = h.ChunkId, text = h.Text, score = h.Score, start = h.Start, end = h.End, headingPath = h.HeadingPath }),
            });
        }).RequireAuthorization(AuthSetup.Reader);

        v1.MapPost("/ask", async (CollectionRef c, HttpContext http, IGrainFactory grains, ChatAnswerer llm, QueryLog queries) =>
        {
            var (body, error) = await ReadJson<AskJson>(http.Request);
            if (error is not null) return error;
            if (ValidQuery(body!.Question, body.TopK, "question") is { } badQuery) return badQuery;
            using var span = StartQuerySpan("ask", c);
            var search = await grains.GetGrain<IQueryPlanGrain>(c.Key).Search(new SearchRequest(body.Question!, body.TopK ?? 5, body.Filter ?? [], null));
            var traceId = Log(queries, http, c, "ask", body.Question!, search, span);
            var ct = http.RequestAborted;
            if (body.Stream == true) return await StreamAnswer(http, llm, body.Question!, search, traceId);

            // Generated when an LLM is configured and reachable; otherwise (or when its breaker is open) extractive.
            var (generated, reason) = llm.IsConfigured && search.Hits.Length > 0 ? await llm.AnswerAsync(body.Question!, search.Hits, ct) : (null, null);
            var answer = generated ?? ExtractiveAnswerer.Answer(body.Question!, search.Hits);
            var mode = generated is not null ? "generated" : llm.IsConfigured && search.Hits.Length > 0 ? "extractive-fallback" : "extractive";
            return Results.Ok(new { answer = answer.Text, citations = CitationsJson(answer), plan = search.Plan, mode, fallbackReason = reason, traceId });
        }).RequireAuthorization(AuthSetup.Reader);

        v1.MapGet("/plans", async (CollectionRef c, IGrainFactory grains) =>
            Results.Ok((await grains.GetGrain<IQueryPlanGrain>(c.Key).GetStats()) with { Collection = c.Name })).RequireAuthorization(AuthSetup.Reader);

        v1.MapGet("/shards", async (CollectionRef c, IGrainFactory grains) =>
        {
            var info = await grains.GetGrain<ICollectionGrain>(c.Key).GetInfo();
            return Results.Ok(await Task.WhenAll(info.Settings.Layout.ShardKeys(c.Key).Select(key => grains.GetGrain<IIndexShardGrain>(key).GetStats())));
        }).RequireAuthorization(AuthSetup.Reader);

        // Backup: the collection as a zip with a checksum manifest (written to a temp file first, so the reply has a
        // length and a failure mid-way is a problem, not a truncated download).
        v1.MapGet("/backup", async (CollectionRef c, HttpContext http, IGrainFactory grains) =>
        {
            var path = Path.GetTempFileName();
            var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
            try
            {
                await CollectionArchive.WriteAsync(grains, c.Key, c.Name, file, http.RequestAborted);
                file.Position = 0;
                return Results.File(file, "application/zip", $"{c.Name}-{DateTime.UtcNow:yyyyMMddTHHmmssZ}.ragbackup.zip");
            }
            catch
            {
                await file.DisposeAsync();
                throw;
            }
        }).RequireAuthorization(AuthSetup.Admin);

        // Restore into a new collection of the caller's tenant (an operator's: of any, with ?tenant=); the archive is verified completely before anything is written.
        app.MapPost("/v1/restore/{collection}", async (string collection, string? tenant, HttpContext http, IGrainFactory grains) =>
        {
            if (Valid(collection) is { } bad) return bad;
            tenant ??= http.User.RequiredTenant();
            if (!Grains.Naming.Names.IsName(tenant) || !Admin.AdminEndpoints.MaySee(http.User, tenant))
                return Problem(404, "Tenant not found", $"no tenant '{tenant}' visible to this key");
            await using var file = new FileStream(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 81920,
                FileOptions.DeleteOnClose | FileOptions.Asynchronous);
            await http.Request.Body.CopyToAsync(file, http.RequestAborted);
            if (file.Length == 0) return Problem(400, "Missing body", "send the backup file as the request body (application/zip)");
            file.Position = 0;
            var manifest = await CollectionArchive.RestoreAsync(grains, tenant, collection, file, http.RequestAborted);
            return Results.Created($"/v1/collections/{collection}", new
            {
                collection, from = manifest.Collection, createdAt = manifest.CreatedAt, documents = manifest.Documents, chunks = manifest.Chunks, skipped = manifest.Skipped,
            });
        }).RequireAuthorization(AuthSetup.Admin).WithMetadata(new BodyLimit(MaxRestoreBytes));

        // Hit and miss counters per tier: L1 of this silo, L2/L3 summed over the cache partitions.
        app.MapGet("/v1/cache", async (IGrainFactory grains, QueryCache l1) =>
        {
            var t = await CacheGrain.TotalsAsync(grains);
            return Results.Ok(new
            {
                l1 = new { hits = l1.Hits, misses = l1.Misses, entries = l1.Count },
                l2 = new { hits = t.L2Hits, misses = t.Misses, entries = t.Entries },
                l3 = new { hits = t.L3Hits },
            });
        }).RequireAuthorization(AuthSetup.Operator);

        app.MapGet("/v1/embedding", async (IGrainFactory grains) => Results.Ok(await grains.GetGrain<IEmbeddingGrain>("local").GetInfo()))
            .RequireAuthorization(AuthSetup.Reader);
    }

    /// <summary>The root of a query's trace: its grain calls on every silo join it, and the dashboard finds them by its id.</summary>
    private static System.Diagnostics.Activity? StartQuerySpan(string kind, CollectionRef c)
    {
        var span = RagCluster.Hosting.Diagnostics.RagTracing.QuerySource.StartActivity($"{kind} {c.Name}");
        span?.SetTag("ragcluster.collection", c.Key);
        return span;
    }

    private static string? Log(QueryLog queries, HttpContext http, CollectionRef c, string kind, string text, SearchResponse r, System.Diagnostics.Activity? span)
    {
        var traceId = (span ?? System.Diagnostics.Activity.Current)?.TraceId.ToHexString();
        queries.Add(new RecentQuery(DateTimeOffset.UtcNow, c.Tenant, c.Name, kind, text, r.Plan, r.Cached, r.CacheTier, r.ElapsedMs, r.Hits.Length, traceId));
        return traceId;
    }

    private static object[] CitationsJson(Answer answer) => answer.Citations.Select(c => (object)new
    {
        number = c.Number, documentId = c.DocumentId, chunkId = c.ChunkId, start = c.Start, end = c.End, score = c.Score, quote = c.Quote,
    }).ToArray();

    // Server-sent events: "token" events with the answer as it is produced, then "citations", then "done".
    private static async Task<IResult> StreamAnswer(HttpContext http, ChatAnswerer llm, string question, SearchResponse search, string? traceId)
    {
        var ct = http.RequestAborted;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        async Task Send(string evt, string json)
        {
            await http.Response.WriteAsync($"event: {evt}\ndata: {json}\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }
        var mode = "extractive";
        Answer answer;
        var failure = new ChatAnswerer.StreamFailure();
        var text = new System.Text.StringBuilder();
        if (llm.IsConfigured && search.Hits.Length > 0)
        {
            await foreach (var piece in llm.StreamAsync(question, search.Hits, failure, ct))
            {
                text.Append(piece);
                await Send("token", JsonSerializer.Serialize(piece));
            }
        }
        if (text.Length > 0)
        {
            mode = "generated";
            answer = ChatAnswerer.WithCitations(text.ToString(), search.Hits);
        }
        else
        {
            if (llm.IsConfigured && search.Hits.Length > 0) mode = "extractive-fallback";
            answer = ExtractiveAnswerer.Answer(question, search.Hits);
            foreach (var word in Regex.Split(answer.Text, @"(?<=\s)")) await Send("token", JsonSerializer.Serialize(word));
        }
        await Send("citations", JsonSerializer.Serialize(CitationsJson(answer)));
        await Send("done", JsonSerializer.Serialize(new { plan = search.Plan, mode, fallbackReason = failure.Reason, traceId }));
        return Results.Empty;
    }

    public static async Task<(T?, IResult?)> ReadJson<T>(HttpRequest request) where T : class
    {
        try
        {
            var body = await request.ReadFromJsonAsync<T>();
            return body is null ? (null, Problem(400, "Missing body", "a JSON body is required")) : (body, null);
        }
        catch (JsonException e)
        {
            return (null, Problem(400, "Invalid JSON", e.Message));
        }
        catch (InvalidOperationException)
        {
            return (null, Problem(415, "Unsupported media type", "send application/json"));
        }
    }

    private static IResult? ValidQuery(string? query, int? topK, string name = "query")
    {
        if (string.IsNullOrWhiteSpace(query) || query.Length > 2000) return Problem(400, $"Invalid {name}", $"{name} must be 1..2000 characters");
        if (topK is < 1 or > 100) return Problem(400, "Invalid topK", "topK must be 1..100");
        return null;
    }

    public static IResult? Valid(string collection) =>
        Names.IsName(collection) ? null : Problem(400, "Invalid collection name", "use " + Names.NameRule);

    /// <summary>
    /// The batch form: each document is checked as the single form would check it, stored (durably, then indexed in
    /// the background), and answered with its own status; a bad document is refused alone, never the whole batch.
    /// </summary>
    private static async Task<IResult> IngestBatchAsync(CollectionRef c, List<IngestJson?> documents, int? dimensions, IGrainFactory grains, IndexingSlots slots,
        HttpContext http, ILogger log)
    {
        if (documents.Count is 0 or > DocumentBatch.MaxDocuments)
            return Problem(400, "Invalid batch", $"\"documents\" must hold 1..{DocumentBatch.MaxDocuments} documents (it has {documents.Count})");
        var results = new object?[documents.Count];
        var rejected = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var work = new List<(int Index, string Id, IngestRequest Request)>();
        for (var i = 0; i < documents.Count; i++)
        {
            var (parsed, rejection) = documents[i] is { } d ? ParseDocument(d, dimensions) : (null, new IngestRejection(400, "Missing document", "null in \"documents\""));
            var id = parsed?.Id ?? documents[i]?.Id;
            if (rejection is null)
                rejection = !Names.IsDocumentId(parsed!.Value.Id) ? new IngestRejection(400, "Invalid document id", "use " + Names.DocumentIdRule)
                    : ValidTags(parsed.Value.Request.Tags)
                      // Two versions of one document in one batch would race; the client must say which it means.
                      ?? (seen.Add(parsed.Value.Id) ? null : new IngestRejection(400, "Duplicate document id", "the batch names this id more than once"));
            if (rejection is not null)
            {
                results[i] = new { documentId = id, status = "rejected", error = rejection };
                rejected++;
            }
            else work.Add((i, parsed!.Value.Id, parsed.Value.Request));
        }
        var stored = await DocumentBatch.IngestAsync(grains, c.Key, work.Select(w => (w.Id, w.Request)).ToList(), http.RequestAborted, slots);
        var retryable = 0;
        for (var k = 0; k < work.Count; k++)
        {
            var (index, id, _) = work[k];
            if (stored[k] is ({ } status, null)) results[index] = new { documentId = id, status = status.Status, version = status.Version };
            else
            {
                // Not accepted; a 503 one (the store or the cluster could not take it now) is safe to send again after retryAfter.
                var refusal = stored[k].Refusal!;
                if (refusal.Status == 500) log.LogError("batch ingest of {Collection}/{Document} failed unexpectedly", c.Key, id);
                if (refusal.Retryable) retryable++;
                results[index] = new
                {
                    documentId = id, status = "rejected",
                    error = new IngestRejection(refusal.Status, refusal.Title, refusal.Detail, refusal.Retryable ? StorageUnavailableException.RetryAfterSeconds : null),
                };
                rejected++;
            }
        }
        if (retryable > 0) http.Response.Headers.RetryAfter = StorageUnavailableException.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Json(new { accepted = documents.Count - rejected, rejected, documents = results }, statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>One JSON document into an ingest request, or why not.</summary>
    private static ((string Id, IngestRequest Request)? Parsed, IngestRejection? Rejection) ParseDocument(IngestJson body, int? dimensions)
    {
        if (dimensions is { } d) return ParseOwnVectors(body, d);
        if (body.Chunks is not null)
            return (null, new IngestRejection(400, "Vectors not accepted", "this collection embeds its documents with the cluster's model: send \"text\" or \"contentBase64\"; to bring your own vectors, create a collection with \"dimensions\""));
        var format = body.Format ?? "txt";
        byte[] content;
        if (body.ContentBase64 is { } base64)
        {
            if (body.Text is not null) return (null, new IngestRejection(400, "Ambiguous document", "send \"text\" or \"contentBase64\", not both"));
            if (!DocumentExtractor.SupportedFormats.Contains(format))
                return (null, new IngestRejection(415, "Unsupported format", $"'{format}'; supported: {string.Join(", ", DocumentExtractor.SupportedFormats)}"));
            try { content = Convert.FromBase64String(base64); }
            catch (FormatException) { return (null, new IngestRejection(400, "Invalid contentBase64", "contentBase64 is not valid base64")); }
        }
        else
        {
            if (body.Text is null) return (null, new IngestRejection(400, "Missing text", "a document needs \"text\" (or \"contentBase64\") and \"id\""));
            if (!DocumentExtractor.SupportedFormats.Contains(format) || format is "docx" or "pdf")
                return (null, new IngestRejection(400, "Unsupported format", "JSON text may be txt, md, html or json; send pdf and docx as contentBase64"));
            content = System.Text.Encoding.UTF8.GetBytes(body.Text);
        }
        return ((body.Id ?? "", new IngestRequest(format, content, body.Tags ?? [], null)), null);
    }

    private static string OwnVectorsOnly(int dimensions) =>
        $"this collection takes documents as \"chunks\", each with \"text\" and a {dimensions}-dimensional \"vector\" (or \"vectorBase64\"); it has no model to embed text";

    /// <summary>A document of chunks with their own vectors, each checked here so a bad one refuses the document and stores nothing.</summary>
    private static ((string Id, IngestRequest Request)? Parsed, IngestRejection? Rejection) ParseOwnVectors(IngestJson body, int dimensions)
    {
        if (body.Text is not null || body.ContentBase64 is not null || body.Chunks is null)
            return (null, new IngestRejection(400, "Vectors required", OwnVectorsOnly(dimensions)));
        if (body.Chunks.Count is 0 or > OwnVectorChunks.MaxChunks)
            return (null, new IngestRejection(400, "Invalid chunks", $"a document holds 1..{OwnVectorChunks.MaxChunks} chunks"));
        var chunks = new List<OwnVectorChunk>(body.Chunks.Count);
        for (var i = 0; i < body.Chunks.Count; i++)
        {
            if (ParseVector(body.Chunks[i]?.Vector, body.Chunks[i]?.VectorBase64, dimensions, $"chunk {i}'s vector") is var (vector, problem) && problem is not null)
                return (null, problem);
            var text = body.Chunks[i]!.Text ?? "";
            if (text.Length > OwnVectorChunks.MaxTextLength)
                return (null, new IngestRejection(400, "Invalid chunk", $"chunk {i}'s text is over {OwnVectorChunks.MaxTextLength} characters"));
            chunks.Add(new OwnVectorChunk(text, vector!));
        }
        return ((body.Id ?? "", new IngestRequest(OwnVectorChunks.Format, OwnVectorChunks.Encode(chunks, dimensions), body.Tags ?? [], null)), null);
    }

    /// <summary>A vector given as numbers or as base64 float32 (exactly one of them), checked against the collection.</summary>
    private static (float[]? Vector, IngestRejection? Problem) ParseVector(float[]? numbers, string? base64, int dimensions, string what)
    {
        var (vector, bad) = DecodeVector(numbers, base64, what);
        if (bad is not null) return (null, bad);
        return OwnVectorChunks.Problem(vector, dimensions) is { } problem
            ? (null, new IngestRejection(400, "Invalid vector", $"{what} {problem}"))
            : (vector, null);
    }

    /// <summary>The vector from exactly one of its two JSON forms, or why there is none.</summary>
    private static (float[]? Vector, IngestRejection? Problem) DecodeVector(float[]? numbers, string? base64, string what)
    {
        if ((numbers is null) == (base64 is null))
            return (null, new IngestRejection(400, "Invalid vector", $"{what}: send \"vector\" (numbers) or \"vectorBase64\" (little-endian float32), one of them"));
        var vector = numbers ?? OwnVectorChunks.FromBase64(base64!);
        return vector is null ? (null, new IngestRejection(400, "Invalid vector", $"{what}: vectorBase64 is not base64 of float32 values")) : (vector, null);
    }

    private static IngestRejection? ValidTags(Dictionary<string, string> tags) =>
        tags.Count > 32 || tags.Any(t => t.Key.Length is 0 or > 64 || t.Value.Length > 256)
            ? new IngestRejection(400, "Invalid tags", "at most 32 tags; keys 1..64 characters, values up to 256")
            : null;

    private static IResult? ValidDocumentId(string id) =>
        Names.IsDocumentId(id) ? null : Problem(400, "Invalid document id", "use " + Names.DocumentIdRule);

    private static Dictionary<string, string> ParseTags(string? tags)
    {
        var result = new Dictionary<string, string>();
        foreach (var pair in (tags ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var i = pair.IndexOf('=');
            if (i > 0) result[pair[..i]] = pair[(i + 1)..];
        }
        return result;
    }

    public static IResult Problem(int status, string title, string detail) => Results.Problem(statusCode: status, title: title, detail: detail);

}
