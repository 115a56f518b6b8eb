using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.Collections;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Backup;

namespace RagCluster.Api.Backup;

/// <summary>A restore's result: the new collection, the one the archive was made from and when, what it held, and the files skipped.</summary>
public sealed record RestoreReply(string Collection, string From, DateTimeOffset CreatedAt, int Documents, int Chunks, string[] Skipped);

/// <summary>GET .../backup (a collection as a zip with a checksum manifest) and POST /v1/restore/{collection}, both for admins.</summary>
public static class BackupEndpoints
{
    public static void MapBackupEndpoints(this IEndpointRouteBuilder app, RouteGroupBuilder collection)
    {
        collection.MapGet("/backup", BackupCollection).RequireAuthorization(AuthSetup.Admin).Produces<Stream>(StatusCodes.Status200OK, "application/zip");
        app.MapPost("/v1/restore/{collection}", RestoreCollection).RequireAuthorization(AuthSetup.Admin).WithMetadata(new Limits.BodyLimit(RagEndpoints.MaxRestoreBytes))
            .Reads<Stream>("application/zip").ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(413);
    }

    // Written to a temp file first, so the reply has a length and a failure mid-way is a problem, not a truncated download.
    [EndpointName("BackupCollection"), EndpointSummary("Download a collection as a backup archive"), Tags("Backup")]
    private static async Task<FileStreamHttpResult> BackupCollection(CollectionRef c, HttpContext http, IGrainFactory grains)
    {
        var path = Path.GetTempFileName();
        var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            await CollectionArchive.WriteAsync(grains, c.Key, c.Name, file, http.RequestAborted);
            file.Position = 0;
            return TypedResults.File(file, "application/zip", $"{c.Name}-{DateTime.UtcNow:yyyyMMddTHHmmssZ}.ragbackup.zip");
        }
        catch
        {
            await file.DisposeAsync();
            throw;
        }
    }

    // Into a new collection of the caller's tenant (an operator's: of any, with ?tenant=); the archive is verified completely before anything is written.
    [EndpointName("RestoreCollection"), EndpointSummary("Restore a backup archive into a new collection"), Tags("Backup")]
    private static async Task<Results<Created<RestoreReply>, ProblemHttpResult>> RestoreCollection(string collection, string? tenant, HttpContext http, IGrainFactory grains)
    {
        if (RagEndpoints.Valid(collection) is { } bad) return bad;
        tenant ??= http.User.RequiredTenant();
        if (!Grains.Interfaces.Naming.Names.IsName(tenant) || !Admin.AdminEndpoints.MaySee(http.User, tenant))
            return RagEndpoints.Problem(404, "Tenant not found", $"no tenant '{tenant}' visible to this key");
        if (await Collections.CollectionNames.AliasProblemAsync(grains, tenant, collection) is { } taken) return taken;
        await using var file = new FileStream(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 81920,
            FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        await http.Request.Body.CopyToAsync(file, http.RequestAborted);
        if (file.Length == 0) return RagEndpoints.Problem(400, "Missing body", "send the backup file as the request body (application/zip)");
        file.Position = 0;
        var manifest = await CollectionArchive.RestoreAsync(grains, tenant, collection, file, http.RequestAborted);
        return TypedResults.Created($"/v1/collections/{collection}",
            new RestoreReply(collection, manifest.Collection, manifest.CreatedAt, manifest.Documents, manifest.Chunks, manifest.Skipped));
    }
}
