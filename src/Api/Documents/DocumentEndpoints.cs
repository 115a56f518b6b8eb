using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.Collections;
using RagCluster.Api.Limits;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Naming;
using static RagCluster.Api.Documents.DocumentParsing;

namespace RagCluster.Api.Documents;

/// <summary>/v1/collections/{collection}/documents: ingest (one, a batch, a file, own vectors), statuses, read and delete.</summary>
public static class DocumentEndpoints
{
    public static void MapDocumentEndpoints(this RouteGroupBuilder collection)
    {
        collection.MapPost("/documents", IngestDocuments).DisableAntiforgery().RequireAuthorization(AuthSetup.Writer).WithMetadata(new BodyLimit(RagEndpoints.MaxUploadBytes + 1024 * 1024))
            .Reads<IngestBody>("application/json").Reads<FileUpload>("multipart/form-data")
            .WithMetadata(new OpenApi.OneOfResponse(StatusCodes.Status202Accepted, "Accepted: one document, or a batch answered document by document", typeof(DocumentAccepted), typeof(BatchAccepted)))
            .ProducesProblem(400).ProducesProblem(409).ProducesProblem(413).ProducesProblem(415)
            .WithDescription("One document ({\"id\",\"text\",\"tags\"}), a batch ({\"documents\":[…]}, answered document by document), or a file as multipart/form-data (fields file, id, tags, format).");
        collection.MapPost("/documents/statuses", GetDocumentStatuses).RequireAuthorization(AuthSetup.Reader).Reads<StatusesRequest>("application/json").ProducesProblem(400);
        collection.MapPost("/documents/contents", GetDocumentContents).RequireAuthorization(AuthSetup.Reader).Reads<ContentsRequest>("application/json").ProducesProblem(400);
        collection.MapGet("/documents/{id}", GetDocumentStatus).RequireAuthorization(AuthSetup.Reader).ProducesProblem(400);
        collection.MapTagUpdates();
        collection.MapDelete("/documents/{id}", DeleteDocument).RequireAuthorization(AuthSetup.Writer).ProducesProblem(400);
    }

    [EndpointName("IngestDocuments"), EndpointSummary("Add or replace documents: one, a batch, or a file"), Tags("Documents")]
    private static async Task<Results<Accepted<DocumentAccepted>, Accepted<BatchAccepted>, ProblemHttpResult>> IngestDocuments(
        CollectionRef c, HttpRequest request, IGrainFactory grains, ILogger<IngestBody> log)
    {
        IngestRequest ingest;
        string id;
        var settings = await grains.GetGrain<ICollectionGrain>(c.Key).GetSettings();
        var dimensions = settings.Dimensions;
        if (request.HasFormContentType)
        {
            if (dimensions is { } d) return RagEndpoints.Problem(400, "Vectors required", OwnVectorsOnly(d));
            IFormCollection form;
            try
            {
                form = await request.ReadFormAsync();
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                // A boundary that never closes, a truncated part: the client's body is broken, not the server.
                return RagEndpoints.Problem(400, "Malformed form body", e.Message);
            }
            var file = form.Files.FirstOrDefault();
            if (file is null) return RagEndpoints.Problem(400, "No file", "multipart upload needs a file part");
            if (file.Length > RagEndpoints.MaxUploadBytes) return RagEndpoints.Problem(413, "File too large", $"files are limited to {RagEndpoints.MaxUploadBytes / 1024 / 1024} MiB");
            var format = (string?)form["format"] ?? DocumentFormats.Detect(file.FileName, file.ContentType);
            if (format is null || !DocumentFormats.Supported.Contains(format))
                return RagEndpoints.Problem(415, "Unsupported format", $"cannot tell the format of '{file.FileName}'; supported: {string.Join(", ", DocumentFormats.Supported)}");
            id = (string?)form["id"] ?? Path.GetFileName(file.FileName);
            using var ms = new MemoryStream();
            await file.CopyToAsync(ms);
            var (tags, badTags) = ParseTags(form["tags"], settings.Fields);
            if (badTags is not null) return RagEndpoints.Problem(badTags.Status, badTags.Title, badTags.Detail);
            ingest = new IngestRequest(format, ms.ToArray(), tags!, file.FileName);
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
                return RagEndpoints.Problem(400, "Invalid JSON", e.Message);
            }
            catch (InvalidOperationException)
            {
                return RagEndpoints.Problem(415, "Unsupported media type", "send application/json {\"id\",\"text\",\"tags\"}, {\"documents\":[…]} or a multipart file upload");
            }
            if (body?.Documents is { } batch)
            {
                if (body.Text is not null || body.ContentBase64 is not null || body.Id is not null)
                    return RagEndpoints.Problem(400, "Ambiguous body", "send either one document or \"documents\", not both");
                var (accepted, refused) = await BatchIngest.IngestAsync(c, batch, settings, grains, log, request.HttpContext.RequestAborted);
                if (refused is not null) return refused;
                // Documents not taken now that may be later: the client is paced as for a whole-request 503.
                if (accepted!.Documents.Any(d => d.Error?.RetryAfter is not null))
                    request.HttpContext.Response.Headers.RetryAfter = StorageUnavailableException.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return TypedResults.Accepted((string?)null, accepted);
            }
            if (body is null) return RagEndpoints.Problem(400, "Missing text", "the JSON body needs \"text\" (and \"id\")");
            var (parsed, rejection) = ParseDocument(body.AsDocument(), settings);
            if (rejection is not null) return RagEndpoints.Problem(rejection.Status, rejection.Title, rejection.Detail);
            (id, ingest) = parsed!.Value;
        }
        if (ValidDocumentId(id) is { } badId) return badId;
        var status = await grains.GetGrain<IIngestGrain>(c.Key).Ingest(id, ingest, c.Access, request.HttpContext.RequestAborted);
        return TypedResults.Accepted($"/v1/collections/{c.Name}/documents/{Uri.EscapeDataString(id)}", new DocumentAccepted(id, status.Status, status.Version));
    }

    // Many documents' statuses in one request, so a bulk ingest can be followed without a request per document: the ids
    // asked for, or a page of those a filter matches (in id order; pass "next" back as "after" until it is null).
    [EndpointName("GetDocumentStatuses"), EndpointSummary("Read the status of many documents at once, by id or by filter"), Tags("Documents")]
    private static async Task<Results<Ok<DocumentStatusesReply>, ProblemHttpResult>> GetDocumentStatuses(CollectionRef c, HttpRequest request, IGrainFactory grains)
    {
        var (body, bad) = await RagEndpoints.ReadJson<StatusesRequest>(request);
        if (bad is not null) return bad;
        List<string> ids;
        string? next = null;
        if (body!.Filter is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } filter)
        {
            if (body.Ids is not null) return RagEndpoints.Problem(400, "Invalid request", "send either \"ids\" or \"filter\", not both");
            if (body.Limit is < 1 or > DocumentLimits.MaxDocuments) return RagEndpoints.Problem(400, "Invalid limit", $"limit must be 1..{DocumentLimits.MaxDocuments}");
            var page = await c.Reads(grains).Page(filter.GetRawText(), body.After, body.Limit ?? DocumentLimits.MaxDocuments, c.Access);
            (ids, next) = ([.. page.DocumentIds], page.Next);
        }
        else if (InvalidIds(body.Ids) is { } refused) return refused;
        else ids = body.Ids!.Select(id => id!).ToList();
        var statuses = await c.Reads(grains).Statuses([.. ids], c.Access);
        return TypedResults.Ok(new DocumentStatusesReply(ids.Zip(statuses, (id, s) => Reply(id, s) with { Status = DocumentStatuses.IsGone(s.Status) ? "notFound" : s.Status }).ToArray(), next));
    }

    // Documents as the index holds them (tags, chunks, vectors if asked): what a search finds is what comes back.
    [EndpointName("GetDocumentContents"), EndpointSummary("Read documents back as the index holds them: tags and chunks"), Tags("Documents")]
    private static async Task<Results<Ok<DocumentContentsReply>, ProblemHttpResult>> GetDocumentContents(CollectionRef c, HttpRequest request, IGrainFactory grains)
    {
        var (body, bad) = await RagEndpoints.ReadJson<ContentsRequest>(request);
        if ((bad ?? InvalidIds(body!.Ids)) is { } refused) return refused;
        var ids = body!.Ids!.Select(i => i!).Distinct(StringComparer.Ordinal).ToArray();
        var documents = await c.Reads(grains).Contents(ids, body.IncludeVectors == true, c.Access);
        return TypedResults.Ok(new DocumentContentsReply([.. documents.Select(DocumentContents.Reply)]));
    }

    [EndpointName("GetDocumentStatus"), EndpointSummary("Read a document's status"), Tags("Documents")]
    private static async Task<Results<Ok<DocumentStatusReply>, ProblemHttpResult>> GetDocumentStatus(CollectionRef c, string id, IGrainFactory grains)
    {
        if (ValidDocumentId(id) is { } bad) return bad;
        var s = (await c.Reads(grains).Statuses([id], c.Access))[0];
        return DocumentStatuses.IsGone(s.Status) ? NotFound(c, id) : TypedResults.Ok(Reply(id, s));
    }

    [EndpointName("DeleteDocument"), EndpointSummary("Delete a document"), Tags("Documents")]
    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteDocument(CollectionRef c, string id, IGrainFactory grains)
    {
        if (ValidDocumentId(id) is { } bad) return bad;
        // Also finishes a delete that failed part-way (the document reads as gone, but its chunks may still be in shards).
        // One the caller cannot see reads as one that does not exist.
        return await grains.Document(c.Key, id).Delete(c.Access)
            ? TypedResults.NoContent()
            : NotFound(c, id);
    }

    /// <summary>Why a list of document ids (statuses, contents) cannot be served: empty, too long, or an id that is not one.</summary>
    private static ProblemHttpResult? InvalidIds(List<string?>? ids)
    {
        if (ids is not { Count: > 0 and <= DocumentLimits.MaxDocuments })
            return RagEndpoints.Problem(400, "Invalid ids", $"send {{\"ids\":[…]}} with 1..{DocumentLimits.MaxDocuments} document ids");
        var wrong = ids.FindIndex(i => i is null || !Names.IsDocumentId(i));
        return wrong < 0 ? null : RagEndpoints.Problem(400, "Invalid document id", $"'{ids[wrong]}': use " + Names.DocumentIdRule);
    }

    private static DocumentStatusReply Reply(string id, DocumentStatus s) => new(id, s.Status, s.Version, s.ChunkCount, s.Error, s.UpdatedAt, s.Waiting);

    internal static ProblemHttpResult NotFound(CollectionRef c, string id) =>
        RagEndpoints.Problem(404, "Document not found", $"no document '{id}' in collection '{c.Name}'");

    internal static ProblemHttpResult? ValidDocumentId(string id) =>
        Names.IsDocumentId(id) ? null : RagEndpoints.Problem(400, "Invalid document id", "use " + Names.DocumentIdRule);
}
