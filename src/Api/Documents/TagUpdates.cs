using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Collections;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Naming;
using RagCluster.Metadata;

namespace RagCluster.Api.Documents;

/// <summary>The body of PATCH .../documents/{id}: tags to set (typed as in ingest) or, with null, to remove; the others stay.</summary>
public sealed record TagPatch(Dictionary<string, JsonElement>? Tags);

/// <summary>One document of a batch tag change: its id and its tag changes.</summary>
public sealed record TagPatchItem(string? Id, Dictionary<string, JsonElement>? Tags);

/// <summary>The body of PATCH .../documents: up to 1,000 documents' tag changes, each answered on its own.</summary>
public sealed record TagPatchBatch(List<TagPatchItem?>? Documents);

/// <summary>
/// PATCH: change a document's tags without sending its content again. The chunks keep their text and vectors (no
/// chunking, no embedding, no vector in a shard's log); the change is a new version, stored before the answer.
/// </summary>
public static class TagUpdates
{
    public static void MapTagUpdates(this RouteGroupBuilder collection)
    {
        collection.MapPatch("/documents/{id}", PatchDocumentTags).RequireAuthorization(Auth.AuthSetup.Writer).Reads<TagPatch>("application/json")
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409);
        collection.MapPatch("/documents", PatchManyDocumentsTags).RequireAuthorization(Auth.AuthSetup.Writer).Reads<TagPatchBatch>("application/json")
            .ProducesProblem(400);
    }

    [EndpointName("PatchDocumentTags"), EndpointSummary("Change a document's tags without re-embedding it (null removes a tag)"), Tags("Documents")]
    private static async Task<Results<Accepted<DocumentAccepted>, ProblemHttpResult>> PatchDocumentTags(CollectionRef c, string id, HttpRequest request, IGrainFactory grains)
    {
        if (DocumentEndpoints.ValidDocumentId(id) is { } badId) return badId;
        var (body, error) = await RagEndpoints.ReadJson<TagPatch>(request);
        if (error is not null) return error;
        var settings = await grains.GetGrain<ICollectionGrain>(c.Key).GetSettings();
        var (changes, problem) = Changes(body!.Tags, settings.Fields);
        if (problem is not null) return RagEndpoints.Problem(400, "Invalid tags", problem);
        try
        {
            var status = await grains.Document(c.Key, id).UpdateTags(changes!, c.Access); // NotFound too for one the caller cannot see
            return TypedResults.Accepted($"/v1/collections/{c.Name}/documents/{Uri.EscapeDataString(id)}", new DocumentAccepted(id, status.Status, status.Version));
        }
        catch (NotFoundException)
        {
            return DocumentEndpoints.NotFound(c, id);
        }
    }

    [EndpointName("PatchManyDocumentsTags"), EndpointSummary("Change many documents' tags, each answered on its own"), Tags("Documents")]
    private static async Task<Results<Accepted<BatchAccepted>, ProblemHttpResult>> PatchManyDocumentsTags(CollectionRef c, HttpRequest request, IGrainFactory grains)
    {
        var (body, error) = await RagEndpoints.ReadJson<TagPatchBatch>(request);
        if (error is not null) return error;
        if (body!.Documents is not { Count: > 0 and <= DocumentLimits.MaxDocuments } documents)
            return RagEndpoints.Problem(400, "Invalid batch", $"\"documents\" must hold 1..{DocumentLimits.MaxDocuments} documents, each {{\"id\",\"tags\"}}");
        var settings = await grains.GetGrain<ICollectionGrain>(c.Key).GetSettings();
        var declared = settings.Fields;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var items = await Task.WhenAll(documents.Select(async d =>
        {
            if (d?.Id is not { } id || !Names.IsDocumentId(id)) return Rejected(d?.Id, 400, "Invalid document id", "use " + Names.DocumentIdRule);
            if (!seen.Add(id)) return Rejected(id, 400, "Duplicate document id", "the batch names this id more than once");
            var (changes, problem) = Changes(d.Tags, declared);
            if (problem is not null) return Rejected(id, 400, "Invalid tags", problem);
            try
            {
                var status = await grains.Document(c.Key, id).UpdateTags(changes!, c.Access);
                return new BatchItem(id, status.Status, status.Version);
            }
            catch (NotFoundException)
            {
                return Rejected(id, 404, "Document not found", $"no document '{id}' in collection '{c.Name}'");
            }
            catch (Exception e) when (DocumentRefusal.Of(e) is { Status: not 500 } refusal)
            {
                return Rejected(id, refusal.Status, refusal.Title, refusal.Detail, refusal.Retryable ? StorageUnavailableException.RetryAfterSeconds : null);
            }
        }));
        var rejected = items.Count(i => i.Error is not null);
        return TypedResults.Accepted((string?)null, new BatchAccepted(items.Length - rejected, rejected, items));
    }

    private static BatchItem Rejected(string? id, int status, string title, string detail, int? retryAfter = null) =>
        new(id, "rejected", Error: new IngestRejection(status, title, detail, retryAfter));

    /// <summary>The tag changes in stored form (null: remove), typed as the collection declares, or the first problem naming the tag.</summary>
    private static (Dictionary<string, string?>? Changes, string? Problem) Changes(Dictionary<string, JsonElement>? tags, IReadOnlyDictionary<string, string>? declared)
    {
        if (tags is not { Count: > 0 }) return (null, "send {\"tags\":{…}} with the tags to set, and null for those to remove");
        if (tags.Count > TagRules.MaxTags) return (null, $"at most {TagRules.MaxTags} tags a document (this change names {tags.Count})");
        var changes = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (key, json) in tags)
        {
            if (TagRules.KeyProblem(key) is { } badKey) return (null, badKey);
            if (json.ValueKind == JsonValueKind.Null) { changes[key] = null; continue; }
            var (value, problem) = TagRules.FromJson(key, json, TagRules.DeclaredKind(declared, key), TagRules.IsText(declared, key));
            if (problem is not null) return (null, problem);
            changes[key] = value!.Value.ToStored();
        }
        return (changes, null);
    }
}
