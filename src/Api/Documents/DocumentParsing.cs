using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Metadata;

namespace RagCluster.Api.Documents;

/// <summary>A JSON document (or a query vector) into what the cluster takes, or the reason it is refused; nothing here touches the cluster.</summary>
public static class DocumentParsing
{
    /// <summary>One JSON document into an ingest request, or why not.</summary>
    public static ((string Id, IngestRequest Request)? Parsed, IngestRejection? Rejection) ParseDocument(DocumentInput body, CollectionSettings settings)
    {
        var (tags, badTags) = TagRules.FromJson(body.Tags, settings.Fields);
        if (badTags is not null) return (null, new IngestRejection(400, "Invalid tags", badTags));
        if (settings.Dimensions is { } d) return ParseOwnVectors(body, d, tags!);
        if (body.Chunks is not null)
            return (null, new IngestRejection(400, "Vectors not accepted", "this collection embeds its documents with the cluster's model: send \"text\" or \"contentBase64\"; to bring your own vectors, create a collection with \"dimensions\""));
        var format = body.Format ?? "txt";
        byte[] content;
        if (body.ContentBase64 is { } base64)
        {
            if (body.Text is not null) return (null, new IngestRejection(400, "Ambiguous document", "send \"text\" or \"contentBase64\", not both"));
            if (!DocumentFormats.Supported.Contains(format))
                return (null, new IngestRejection(415, "Unsupported format", $"'{format}'; supported: {string.Join(", ", DocumentFormats.Supported)}"));
            try { content = Convert.FromBase64String(base64); }
            catch (FormatException) { return (null, new IngestRejection(400, "Invalid contentBase64", "contentBase64 is not valid base64")); }
        }
        else
        {
            if (body.Text is null) return (null, new IngestRejection(400, "Missing text", "a document needs \"text\" (or \"contentBase64\") and \"id\""));
            if (!DocumentFormats.Supported.Contains(format) || format is "docx" or "pdf")
                return (null, new IngestRejection(400, "Unsupported format", "JSON text may be txt, md, html or json; send pdf and docx as contentBase64"));
            content = System.Text.Encoding.UTF8.GetBytes(body.Text);
        }
        return ((body.Id ?? "", new IngestRequest(format, content, tags!, null)), null);
    }

    public static string OwnVectorsOnly(int dimensions) =>
        $"this collection takes documents as \"chunks\", each with \"text\" and a {dimensions}-dimensional \"vector\" (or \"vectorBase64\"); it has no model to embed text";

    /// <summary>A document of chunks with their own vectors, each checked here so a bad one refuses the document and stores nothing.</summary>
    private static ((string Id, IngestRequest Request)? Parsed, IngestRejection? Rejection) ParseOwnVectors(DocumentInput body, int dimensions, Dictionary<string, string> tags)
    {
        if (body.Text is not null || body.ContentBase64 is not null || body.Chunks is null)
            return (null, new IngestRejection(400, "Vectors required", OwnVectorsOnly(dimensions)));
        if (body.Chunks.Count is 0 or > OwnVectorChunks.MaxChunks)
            return (null, new IngestRejection(400, "Invalid chunks", $"a document holds 1..{OwnVectorChunks.MaxChunks} chunks"));
        var chunks = new List<OwnVectorChunk>(body.Chunks.Count);
        for (var i = 0; i < body.Chunks.Count; i++)
        {
            var (numbers, base64) = (body.Chunks[i]?.Vector, body.Chunks[i]?.VectorBase64);
            // A chunk may come without a vector (filters and BM25 find it); a collection of 0 dimensions takes none.
            var (vector, problem) = numbers is null && base64 is null ? (null, null)
                : dimensions == 0 ? (null, new IngestRejection(400, "Invalid vector", $"chunk {i}: this collection holds no vectors (dimensions 0); send its text alone"))
                : ParseVector(numbers, base64, dimensions, $"chunk {i}'s vector");
            if (problem is not null) return (null, problem);
            var text = body.Chunks[i]?.Text ?? ""; // neither text nor a vector: a record of tags, which filters find
            if (text.Length > OwnVectorChunks.MaxTextLength)
                return (null, new IngestRejection(400, "Invalid chunk", $"chunk {i}'s text is over {OwnVectorChunks.MaxTextLength} characters"));
            chunks.Add(new OwnVectorChunk(text, vector));
        }
        return ((body.Id ?? "", new IngestRequest(OwnVectorChunks.Format, OwnVectorChunks.Encode(chunks, dimensions), tags, null)), null);
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
    public static (float[]? Vector, IngestRejection? Problem) DecodeVector(float[]? numbers, string? base64, string what)
    {
        if ((numbers is null) == (base64 is null))
            return (null, new IngestRejection(400, "Invalid vector", $"{what}: send \"vector\" (numbers) or \"vectorBase64\" (little-endian float32), one of them"));
        var vector = numbers ?? OwnVectorChunks.FromBase64(base64!);
        return vector is null ? (null, new IngestRejection(400, "Invalid vector", $"{what}: vectorBase64 is not base64 of float32 values")) : (vector, null);
    }

    /// <summary>
    /// The multipart form's "tags" field, "key=value,key=value": each value text, typed as a declared field says (a
    /// number for an integer field, "a|b" for a string[] field), else a string (a datetime when it is ISO 8601 with an offset).
    /// </summary>
    public static (Dictionary<string, string>? Tags, IngestRejection? Problem) ParseTags(string? tags, IReadOnlyDictionary<string, string>? declared)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in (tags ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var i = pair.IndexOf('=');
            if (i <= 0) continue;
            var key = pair[..i];
            var (value, problem) = TagRules.KeyProblem(key) is { } badKey ? (null, badKey) : TagRules.FromText(key, pair[(i + 1)..], TagRules.DeclaredKind(declared, key), isText: TagRules.IsText(declared, key));
            if (problem is not null) return (null, new IngestRejection(400, "Invalid tags", problem));
            result[key] = value!.Value.ToStored();
        }
        return TagRules.SizeProblem(result) is { } tooMany ? (null, new IngestRejection(400, "Invalid tags", tooMany)) : (result, null);
    }
}
