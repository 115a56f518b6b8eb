namespace RagCluster.Client;

public sealed partial class RagClusterClient
{
    /// <summary>The most documents one batch request may carry (the API's limit).</summary>
    public const int MaxBatchDocuments = 1000;

    /// <summary>Adds or replaces one document: stored durably when this returns, indexed in the background.</summary>
    public Task<DocumentAccepted> IngestAsync(string collection, DocumentInput document, CancellationToken ct = default) =>
        SendJsonAsync<DocumentAccepted>(HttpMethod.Post, $"{CollectionPath(collection)}/documents", document, ct);

    /// <summary>
    /// Adds or replaces up to <see cref="MaxBatchDocuments"/> documents in one request, answered document by document:
    /// a refused one (a bad id, a full backlog) is in <see cref="BatchAccepted.Documents"/> with its error; the rest are kept.
    /// </summary>
    public Task<BatchAccepted> IngestBatchAsync(string collection, IReadOnlyList<DocumentInput> documents, CancellationToken ct = default)
    {
        if (documents.Count is 0 or > MaxBatchDocuments) throw new ArgumentOutOfRangeException(nameof(documents), $"a batch holds 1..{MaxBatchDocuments} documents");
        return SendJsonAsync<BatchAccepted>(HttpMethod.Post, $"{CollectionPath(collection)}/documents", new { documents }, ct);
    }

    /// <summary>
    /// Uploads a file (pdf, docx, html, md, txt, …) as one document; its id is <paramref name="id"/> or the file name,
    /// its format from the name unless given. The content is read into memory once, so a retry can send it again.
    /// </summary>
    public async Task<DocumentAccepted> UploadFileAsync(string collection, Stream content, string fileName, string? id = null,
        IReadOnlyDictionary<string, string>? tags = null, string? format = null, CancellationToken ct = default)
    {
        using var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, ct).ConfigureAwait(false);
        var bytes = buffer.ToArray();
        return await ReadAsync<DocumentAccepted>(() =>
        {
            var form = new MultipartFormDataContent { { new ByteArrayContent(bytes), "file", fileName } };
            if (id is not null) form.Add(new StringContent(id), "id");
            if (format is not null) form.Add(new StringContent(format), "format");
            if (tags is { Count: > 0 }) form.Add(new StringContent(string.Join(',', tags.Select(t => $"{t.Key}={t.Value}"))), "tags");
            return new HttpRequestMessage(HttpMethod.Post, $"{CollectionPath(collection)}/documents") { Content = form };
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Changes a document's tags without sending its content again (merged: a null value removes a tag): a new version,
    /// stored when this returns; its chunks keep their text and vectors and take the new tags in the background.
    /// </summary>
    public Task<DocumentAccepted> UpdateTagsAsync(string collection, string id, IReadOnlyDictionary<string, object?> tags, CancellationToken ct = default) =>
        SendJsonAsync<DocumentAccepted>(HttpMethod.Patch, $"{CollectionPath(collection)}/documents/{Segment(id)}", new { tags }, ct);

    /// <summary>Changes the tags of up to <see cref="MaxBatchDocuments"/> documents in one request, each answered on its own.</summary>
    public Task<BatchAccepted> UpdateTagsAsync(string collection, IReadOnlyList<TagUpdate> documents, CancellationToken ct = default)
    {
        if (documents.Count is 0 or > MaxBatchDocuments) throw new ArgumentOutOfRangeException(nameof(documents), $"a batch holds 1..{MaxBatchDocuments} documents");
        return SendJsonAsync<BatchAccepted>(HttpMethod.Patch, $"{CollectionPath(collection)}/documents", new { documents }, ct);
    }

    public Task<DocumentStatusReply> GetDocumentAsync(string collection, string id, CancellationToken ct = default) =>
        GetAsync<DocumentStatusReply>($"{CollectionPath(collection)}/documents/{Segment(id)}", ct);

    /// <summary>The statuses of up to 1,000 documents in one request ("notFound" for those it does not hold).</summary>
    public async Task<DocumentStatusReply[]> GetDocumentStatusesAsync(string collection, IReadOnlyList<string> ids, CancellationToken ct = default) =>
        (await SendJsonAsync<DocumentStatusesReply>(HttpMethod.Post, $"{CollectionPath(collection)}/documents/statuses", new { ids }, ct).ConfigureAwait(false)).Documents;

    /// <summary>
    /// The statuses of the documents a <paramref name="filter"/> matches (the filter language, as on search), up to
    /// <paramref name="limit"/> (1..1,000) in id order: pass <see cref="DocumentStatusesReply.Next"/> back as
    /// <paramref name="after"/> until it is null. A document matches through the tags of its indexed version.
    /// </summary>
    public Task<DocumentStatusesReply> GetDocumentStatusesAsync(string collection, object filter, string? after = null, int? limit = null, CancellationToken ct = default) =>
        SendJsonAsync<DocumentStatusesReply>(HttpMethod.Post, $"{CollectionPath(collection)}/documents/statuses", new { filter, after, limit }, ct);

    /// <summary>
    /// Up to 1,000 documents as the index holds them (tags, chunks, and vectors when <paramref name="includeVectors"/>);
    /// those it does not hold (yet, or any more) are left out. A document is there once it is indexed.
    /// </summary>
    public async Task<DocumentContent[]> GetDocumentContentsAsync(string collection, IReadOnlyList<string> ids, bool includeVectors = false, CancellationToken ct = default) =>
        (await SendJsonAsync<DocumentContentsReply>(HttpMethod.Post, $"{CollectionPath(collection)}/documents/contents", new { ids, includeVectors }, ct).ConfigureAwait(false)).Documents;

    public Task DeleteDocumentAsync(string collection, string id, CancellationToken ct = default) =>
        SendNoContentAsync(HttpMethod.Delete, $"{CollectionPath(collection)}/documents/{Segment(id)}", ct);

    /// <summary>Little-endian float32 in base64: the compact form of a vector the API takes beside JSON numbers.</summary>
    public static string VectorToBase64(ReadOnlySpan<float> vector) =>
        Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector));
}
