using System.Text.Json;
using System.Text.Json.Serialization;

namespace RagCluster.Api.Documents;

/// <summary>One document as JSON: text (txt, md, html, json), or any format as contentBase64 (pdf, docx too), or (collections with dimensions) chunks with vectors.</summary>
public sealed record DocumentInput(string? Id, string? Text = null, Dictionary<string, JsonElement>? Tags = null, string? Format = null, string? ContentBase64 = null,
    List<ChunkInput?>? Chunks = null);

/// <summary>A chunk with its own vector (collections created with "dimensions"): "vector" as numbers or "vectorBase64" as little-endian float32.</summary>
public sealed record ChunkInput(string? Text = null, float[]? Vector = null, string? VectorBase64 = null);

/// <summary>The JSON body of POST .../documents: one document, or up to 1,000 in "documents" (a file goes as multipart/form-data instead).</summary>
public sealed record IngestBody(string? Id = null, string? Text = null, Dictionary<string, JsonElement>? Tags = null, string? Format = null, string? ContentBase64 = null,
    List<DocumentInput?>? Documents = null, List<ChunkInput?>? Chunks = null)
{
    public DocumentInput AsDocument() => new(Id, Text, Tags, Format, ContentBase64, Chunks);
}

/// <summary>A file upload (multipart/form-data): the file; its id (the file name by default), tags "k=v,k=v", and format (from the name by default).</summary>
public sealed record FileUpload(IFormFile File, string? Id = null, string? Tags = null, string? Format = null);

/// <summary>The body of POST .../documents/contents: 1..1,000 document ids, and whether to send the chunks' vectors.</summary>
public sealed record ContentsRequest(List<string?>? Ids, bool? IncludeVectors = null);

/// <summary>One chunk as the index holds it: its place in the document, its text, and its vector (if asked; scaled to length 1).</summary>
public sealed record ChunkContent(string ChunkId, int Ordinal, string Text, int Start, int End, string[] HeadingPath,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float[]? Vector);

/// <summary>A document as the index holds it: its version, tags (typed: strings, numbers, booleans, datetimes in UTC, arrays) and chunks.</summary>
public sealed record DocumentContent(string DocumentId, long Version, Dictionary<string, object> Tags, ChunkContent[] Chunks);

/// <summary>The documents asked for that the index holds (the others are left out), in the order asked.</summary>
public sealed record DocumentContentsReply(DocumentContent[] Documents);

/// <summary>
/// The body of POST .../documents/statuses: 1..1,000 document ids, or a filter (the filter language) with an optional
/// after (the last id of the page before) and limit (1..1,000, default 1,000).
/// </summary>
public sealed record StatusesRequest(List<string?>? Ids, JsonElement? Filter = null, string? After = null, int? Limit = null);

/// <summary>Why one document of a request was refused: an HTTP status, title and detail as in a problem; retryAfter (seconds) when sending it again later can succeed.</summary>
public sealed record IngestRejection(int Status, string Title, string Detail, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? RetryAfter = null);

/// <summary>A document accepted: stored durably, indexed in the background; follow it with GET .../documents/{id}.</summary>
public sealed record DocumentAccepted(string DocumentId, string Status, long Version);

/// <summary>A batch answered document by document: each accepted (status, version) or rejected (error).</summary>
public sealed record BatchAccepted(int Accepted, int Rejected, BatchItem[] Documents);

public sealed record BatchItem(string? DocumentId, string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Version = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IngestRejection? Error = null);

/// <summary>
/// A document's state: accepted, pending, indexed (chunkCount chunks), failed (error) or, in a statuses read, notFound.
/// A pending document that cannot be indexed now says why in waiting (e.g. no silo with the embedding role is active).
/// </summary>
public sealed record DocumentStatusReply(string DocumentId, string Status, long Version, int ChunkCount, string? Error, DateTimeOffset UpdatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Waiting = null);

/// <summary>The statuses asked for; next (filtered reads only) is the "after" of the following page, null on the last.</summary>
public sealed record DocumentStatusesReply(DocumentStatusReply[] Documents, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Next = null);
