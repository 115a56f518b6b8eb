using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Auth;
using RagCluster.Api.Collections;
using RagCluster.Api.OpenApi;
using RagCluster.Grains.Interfaces.Backup;
using RagCluster.Grains.Interfaces.Security;

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

    // Written to a temp file first (by the cluster's backup operation, on this silo), so the reply has a length and a
    // failure mid-way is a problem, not a truncated download.
    [EndpointName("BackupCollection"), EndpointSummary("Download a collection as a backup archive"), Tags("Backup")]
    private static async Task<FileStreamHttpResult> BackupCollection(CollectionRef c, HttpContext http, IGrainFactory grains)
    {
        var path = Path.GetTempFileName();
        try
        {
            await grains.GetGrain<IBackupGrain>(c.Key).Write(path, http.RequestAborted);
            var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None, 81920, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
            return TypedResults.File(file, "application/zip", $"{c.Name}-{DateTime.UtcNow:yyyyMMddTHHmmssZ}.ragbackup.zip");
        }
        catch
        {
            File.Delete(path);
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
        var path = Path.GetTempFileName(); // staged on this silo, where the restore operation (a local worker) reads it
        try
        {
            await using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                await http.Request.Body.CopyToAsync(file, http.RequestAborted);
                if (file.Length == 0) return RagEndpoints.Problem(400, "Missing body", "send the backup file as the request body (application/zip)");
            }
            var restored = await grains.GetGrain<IBackupGrain>(TenantScope.CollectionKey(tenant, collection)).Restore(path, http.RequestAborted);
            return TypedResults.Created($"/v1/collections/{collection}",
                new RestoreReply(collection, restored.From, restored.CreatedAt, restored.Documents, restored.Chunks, restored.Skipped));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
