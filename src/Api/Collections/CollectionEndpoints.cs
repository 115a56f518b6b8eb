using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Collections;

/// <summary>/v1/collections: list, create, read, configure (reshard), delete, the document registry, shards and plans.</summary>
public static class CollectionEndpoints
{
    public static void MapCollectionEndpoints(this IEndpointRouteBuilder app, RouteGroupBuilder collection)
    {
        app.MapGet("/v1/collections", ListCollections).RequireAuthorization(AuthSetup.Reader);
        app.MapPost("/v1/collections", CreateCollection).RequireAuthorization(AuthSetup.Writer).Reads<CreateCollectionRequest>("application/json").ProducesProblem(400).ProducesProblem(409);
        collection.MapGet("", GetCollection).RequireAuthorization(AuthSetup.Reader);
        collection.MapGet("/documents", ListDocumentIds).RequireAuthorization(AuthSetup.Reader).ProducesProblem(400);
        collection.MapPut("", ConfigureCollection).RequireAuthorization(AuthSetup.Writer).Reads<ConfigureCollectionRequest>("application/json").ProducesProblem(400).ProducesProblem(409);
        collection.MapDelete("", DeleteCollection).RequireAuthorization(AuthSetup.Writer).ProducesProblem(400).ProducesProblem(409);
        collection.MapGet("/plans", GetPlanStats).RequireAuthorization(AuthSetup.Reader);
        collection.MapGet("/shards", GetShardStats).RequireAuthorization(AuthSetup.Reader).ProducesProblem(403);
    }

    [EndpointName("ListCollections"), EndpointSummary("List the caller's collections"), Tags("Collections")]
    private static async Task<Ok<string[]>> ListCollections(HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<ITenantGrain>(http.User.RequiredTenant()).Collections());

    [EndpointName("CreateCollection"), EndpointSummary("Create a collection"), Tags("Collections")]
    private static async Task<Results<Created<CollectionSettingsReply>, ProblemHttpResult>> CreateCollection(HttpContext http, IGrainFactory grains)
    {
        var (body, error) = await RagEndpoints.ReadJson<CreateCollectionRequest>(http.Request);
        if (error is not null) return error;
        if (body!.Name is null) return RagEndpoints.Problem(400, "Missing name", "the JSON body needs \"name\"");
        if (RagEndpoints.Valid(body.Name) is { } bad) return bad;
        var asked = new NewCollection(body.ShardCount, body.ChunkMaxTokens, body.ChunkOverlapTokens)
        {
            Dimensions = body.Dimensions, Quantization = body.Quantization, ReplicationFactor = body.ReplicationFactor, Fields = body.Fields,
            AccessField = body.AccessField, IndexKind = body.IndexKind, Distance = body.Distance, Language = body.Language, GraphLinks = body.GraphLinks,
        };
        var created = await grains.GetGrain<ICollectionCreationGrain>(TenantScope.CollectionKey(http.User.RequiredTenant(), body.Name)).Create(asked);
        return TypedResults.Created($"/v1/collections/{body.Name}", new CollectionSettingsReply(body.Name, created));
    }

    [EndpointName("GetCollection"), EndpointSummary("Read a collection: settings, version, document counts, resharding"), Tags("Collections")]
    private static async Task<Ok<CollectionReply>> GetCollection(CollectionRef c, IGrainFactory grains)
    {
        var view = await c.Reads(grains).Info(c.Access);
        return TypedResults.Ok(new CollectionReply(c.Name, view.Info.Settings, view.Info.Version, view.DocumentCount, view.UnsettledCount, view.Info.Resharding));
    }

    // The registry a page at a time: pass "next" back as "after" until it is null. With a filter (JSON, the filter
    // language), the documents the index holds with a chunk it matches, from each shard's tag index, merged in id order.
    [EndpointName("ListDocumentIds"), EndpointSummary("List a collection's document ids, a page at a time, optionally filtered on tags"), Tags("Collections")]
    private static async Task<Results<Ok<DocumentIdsPage>, ProblemHttpResult>> ListDocumentIds(CollectionRef c, string? after, int? limit, string? filter, IGrainFactory grains)
    {
        if (limit is < 1 or > 10_000) return RagEndpoints.Problem(400, "Invalid limit", "limit must be 1..10000");
        var page = await c.Reads(grains).Page(filter, after, limit ?? 1000, c.Access);
        return TypedResults.Ok(new DocumentIdsPage(page.DocumentIds, page.Next));
    }

    [EndpointName("ConfigureCollection"), EndpointSummary("Change a collection's shard count (reshards online), chunking or replication factor"), Tags("Collections")]
    private static async Task<Results<Ok<CollectionSettingsReply>, Accepted<CollectionSettingsReply>, ProblemHttpResult>> ConfigureCollection(CollectionRef c, HttpRequest request, IGrainFactory grains)
    {
        var (body, error) = await RagEndpoints.ReadJson<ConfigureCollectionRequest>(request);
        if (error is not null) return error;
        var current = (await grains.GetGrain<ICollectionGrain>(c.Key).GetInfo()).Settings;
        var accessField = body!.AccessField is null ? current.AccessField : NoneIfEmpty(body.AccessField);
        // Who reads which document is the admins' to say: a writer that could drop the field would read everything.
        if (accessField != current.AccessField && !Roles.Allows(request.HttpContext.User.Role() ?? "", Roles.Admin))
            return RagEndpoints.Problem(403, "Forbidden", $"role '{request.HttpContext.User.Role()}' may not change the access field; a tenant admin may");
        var settings = new CollectionSettings(body.ShardCount ?? current.ShardCount, body.ChunkMaxTokens ?? current.ChunkMaxTokens,
            body.ChunkOverlapTokens ?? current.ChunkOverlapTokens)
        {
            Dimensions = current.Dimensions, Quantization = current.Quantization, IndexKind = current.IndexKind, Distance = current.Distance, Language = current.Language, ReplicationFactor = body.ReplicationFactor ?? current.ReplicationFactor,
            Fields = body.Fields is null ? current.Fields : NoneIfEmpty(body.Fields), AccessField = accessField,
            GraphLinks = body.GraphLinks is null ? current.GraphLinks : body.GraphLinks is { Length: > 0 } links ? links : null,
        };
        var configured = await grains.GetGrain<ICollectionGrain>(c.Key).Configure(settings);
        // A new shard count on a collection with documents is copied online: 202, and GET shows "resharding" until it ends.
        var resharding = (await grains.GetGrain<ICollectionGrain>(c.Key).GetInfo()).Resharding;
        var reply = new CollectionSettingsReply(c.Name, configured, resharding);
        return resharding is null ? TypedResults.Ok(reply) : TypedResults.Accepted($"/v1/collections/{c.Name}", reply);
    }

    // Run in the cluster's deletion grain: every document (their chunks leave every shard), then the collection; safe to repeat.
    [EndpointName("DeleteCollection"), EndpointSummary("Delete a collection and every document in it"), Tags("Collections")]
    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteCollection(CollectionRef c, HttpContext http, IGrainFactory grains)
    {
        // Deleting through an alias would drop whichever collection it names at that moment: the collection is named.
        if (c.Alias is { } alias)
            return RagEndpoints.Problem(400, "Alias named", $"'{alias}' is an alias of '{c.Name}': delete the alias with DELETE /v1/aliases/{alias}, or name the collection");
        await grains.GetGrain<ICollectionDeletionGrain>(c.Key).Delete(http.RequestAborted);
        return TypedResults.NoContent();
    }

    [EndpointName("GetPlanStats"), EndpointSummary("Query plan statistics of a collection"), Tags("Collections")]
    private static async Task<Ok<PlanStats>> GetPlanStats(CollectionRef c, IGrainFactory grains) =>
        TypedResults.Ok((await grains.GetGrain<IQueryPlanGrain>(c.Key).GetStats()) with { Collection = c.Name });

    // Every copy of every shard: the primary (copy 0) first, then its followers with how far each is behind it.
    [EndpointName("GetShardStats"), EndpointSummary("Statistics of each copy of each of a collection's shards"), Tags("Collections")]
    private static async Task<Results<Ok<ShardStats[]>, ProblemHttpResult>> GetShardStats(CollectionRef c, IGrainFactory grains)
    {
        var (info, seesAll) = await c.Reads(grains).Info(c.Access);
        if (!seesAll)
            return RagEndpoints.Problem(403, "Forbidden", "shard statistics count every document of a collection with an access field; a tenant admin reads them");
        var shards = await Task.WhenAll(info.Settings.Layout.ShardKeys(c.Key).Select(async key =>
        {
            var copies = await Task.WhenAll(Enumerable.Range(0, info.Settings.ReplicationFactor)
                .Select(copy => grains.GetGrain<IIndexShardGrain>(ShardLayout.CopyKey(key, copy)).GetStats()));
            return copies.Select(s => s.Copy == 0 ? s : s with { Lag = Math.Max(0, copies[0].LogPosition - s.LogPosition) });
        }));
        return TypedResults.Ok(shards.SelectMany(s => s).ToArray());
    }

    private static Dictionary<string, string>? NoneIfEmpty(Dictionary<string, string>? fields) => fields is { Count: > 0 } ? fields : null;
    private static string? NoneIfEmpty(string? field) => string.IsNullOrEmpty(field) ? null : field;
}
