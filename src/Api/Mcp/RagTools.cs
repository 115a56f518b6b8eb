using System.ComponentModel;
using System.Security.Claims;
using System.Text.Json;
using ModelContextProtocol.Server;
using RagCluster.Api.Auth;
using RagCluster.Api.Collections;
using RagCluster.Api.Dashboard;
using RagCluster.Api.Documents;
using RagCluster.Api.Querying;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Mcp;

/// <summary>
/// The cluster as MCP tools, each the HTTP API's operation of the same name run for the calling key's tenant: the same
/// checks, the same grains, the same refusals (thrown as <see cref="ToolProblem"/>, answered as tool errors).
/// </summary>
[McpServerToolType]
public sealed class RagTools(IGrainFactory grains, QueryLog queries, CollectionExistence existence)
{
    private const string CollectionHelp = "The collection's name, as list_collections gives it.";
    private const string FilterHelp = "Only passages whose document's tags match this filter: {\"lang\":\"en\"} for equality; per tag the operators $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $exists, $containsAny, $containsAll, and $and, $or, $not around filters, e.g. {\"year\":{\"$gte\":2020},\"$or\":[{\"dept\":\"hr\"},{\"dept\":\"legal\"}]}. Datetimes are ISO 8601 strings with an offset.";

    [McpServerTool(Name = "list_collections", Title = "List collections", ReadOnly = true, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("Lists the collections this API key can search, with how many documents each holds. Call it first to learn which collection to pass to the other tools.")]
    public async Task<CollectionList> ListCollections(ClaimsPrincipal caller)
    {
        var tenant = caller.RequiredTenant();
        var names = (await grains.GetGrain<ITenantGrain>(tenant).Collections()).Order(StringComparer.Ordinal).ToArray();
        // A collection with an access field counts documents this key may not see: no count is given for it then.
        var views = await Task.WhenAll(names.Select(name => grains.GetGrain<ICollectionReadsGrain>(TenantScope.CollectionKey(tenant, name)).Info(caller.Access())));
        return new(names.Zip(views, (name, view) => new CollectionSummary(name, view.DocumentCount, view.Info.Settings.Dimensions)).ToArray());
    }

    [McpServerTool(Name = "search", Title = "Search a collection", ReadOnly = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("Finds the passages of a collection that best match a query, best first, each with its document id, its position in the document and a score. Use it to find sources; use ask for an answer with citations.")]
    public async Task<SearchReply> Search(ClaimsPrincipal caller,
        [Description(CollectionHelp)] string collection,
        [Description("What to look for, in words (1..2000 characters): a question or a description of what the passage says.")] string query,
        [Description("How many passages to return, 1..100.")] int topK = 10,
        [Description("How to search: vector (by meaning), bm25 (by words), hybrid (both, fused by relative score unless fusion says rrf), hybrid-k10 or hybrid-rrf (both, fused by rank), or auto. Leave it out to let the collection choose.")] string? plan = null,
        [Description(FilterHelp)] JsonElement? filter = null,
        [Description("\"document\" to get topK documents instead of passages, each with its best passages (groupSize of them) and its score.")] string? groupBy = null,
        [Description("With groupBy: passages a document brings, 1..10 (1).")] int? groupSize = null,
        [Description("Drop passages scored below this. The score is the plan's: cosine similarity for vector, BM25 for bm25, a fused rank score (at most about 0.033) for hybrid.")] double? scoreThreshold = null,
        [Description("Passages (or documents) to skip, to page: offset + topK at most 1000.")] int? offset = null,
        [Description("How the hybrid plan fuses meaning and words: rrf (by rank) or relative (by scaled score, so one strong match outweighs a weak one).")] string? fusion = null,
        [Description("The hybrid plan's weight on meaning, 0..1 (0: words only, 1: meaning only).")] double? alpha = null,
        CancellationToken ct = default)
    {
        var c = await Existing(caller, collection);
        return ToolProblem.ValueOf(await Queries.SearchAsync(c, new SearchBody(query, topK, filter, plan, GroupBy: groupBy, GroupSize: groupSize,
            ScoreThreshold: scoreThreshold, Offset: offset, Fusion: fusion, Alpha: alpha), grains, queries, ct));
    }

    [McpServerTool(Name = "ask", Title = "Ask a collection", ReadOnly = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("Answers a question from a collection's documents, with numbered citations ([1], [2], ...) that name the document and quote the passage. The answer is written by the cluster's language model when one is configured (mode 'generated'), else put together from the best passages (mode 'extractive').")]
    public async Task<AskReply> Ask(ClaimsPrincipal caller,
        [Description(CollectionHelp)] string collection,
        [Description("The question (1..2000 characters).")] string question,
        [Description("How many passages to draw the answer from, 1..100.")] int topK = 5,
        [Description(FilterHelp)] JsonElement? filter = null,
        [Description("For a follow-up: the conversationId an earlier answer gave, or \"new\" to start a conversation (the answer gives its id). A follow-up may refer to what was asked before (\"and black tea?\").")] string? conversationId = null,
        CancellationToken ct = default)
    {
        var c = await Existing(caller, collection);
        return (await Queries.AskAsync(c, new AskBody(question, topK, null, filter, conversationId), caller, grains, queries, ct)).Value!;
    }

    [McpServerTool(Name = "read_document", Title = "Read a document", ReadOnly = true, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("Reads one document of a collection: its indexing status, tags and text chunk by chunk. Use it to read more of a document that search or ask cited.")]
    public async Task<DocumentRead> ReadDocument(ClaimsPrincipal caller,
        [Description(CollectionHelp)] string collection,
        [Description("The document's id, as search, ask or add_documents gave it.")] string id)
    {
        var c = await Existing(caller, collection);
        ToolProblem.ThrowIf(DocumentEndpoints.ValidDocumentId(id));
        var status = (await c.Reads(grains).Statuses([id], c.Access))[0];
        if (DocumentStatuses.IsGone(status.Status)) throw ToolProblem.Of(DocumentEndpoints.NotFound(c, id));
        var held = (await c.Reads(grains).Contents([id], includeVectors: false, c.Access)).Select(DocumentContents.Reply).SingleOrDefault();
        var chunks = held?.Chunks.Select(ch => new ChunkText(ch.ChunkId, ch.Text, ch.Start, ch.End, ch.HeadingPath)).ToArray() ?? [];
        return new DocumentRead(id, status.Status, status.Version, held?.Tags ?? [], chunks, status.Error, status.Waiting);
    }

    [McpServerTool(Name = "add_documents", Title = "Add documents", Destructive = true, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [ToolRole(Roles.Writer)]
    [Description("Adds documents to a collection, or replaces those with the same ids (up to 1000 a call). Each is stored durably and answered at once with its own status ('accepted', then indexed in the background; read_document shows when it is 'indexed'), or 'rejected' with the reason; one bad document does not refuse the others.")]
    public async Task<BatchAccepted> AddDocuments(ClaimsPrincipal caller, ILogger<RagTools> log,
        [Description(CollectionHelp)] string collection,
        [Description("The documents, each with an id and its text.")] TextDocument[] documents,
        CancellationToken ct = default)
    {
        var c = await Existing(caller, collection);
        var settings = await grains.GetGrain<ICollectionGrain>(c.Key).GetSettings();
        var (accepted, refused) = await BatchIngest.IngestAsync(c, documents.Select(d => (DocumentInput?)d.AsInput()).ToList(), settings, grains, log, ct);
        ToolProblem.ThrowIf(refused);
        return accepted!;
    }

    /// <summary>The caller's own collection of that name (or alias), or the same 404 the HTTP API gives (for another tenant's too).</summary>
    private async Task<CollectionRef> Existing(ClaimsPrincipal caller, string collection)
    {
        var (resolved, problem) = await CollectionRef.OfCaller(caller, collection).ResolveAsync(caller, existence);
        ToolProblem.ThrowIf(problem);
        return resolved!;
    }
}
