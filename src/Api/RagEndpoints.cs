using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Backup;
using RagCluster.Api.Cluster;
using RagCluster.Api.Collections;
using RagCluster.Api.Documents;
using RagCluster.Api.Querying;
using RagCluster.Grains.Naming;

namespace RagCluster.Api;

/// <summary>
/// The /v1 API, mapped resource by resource (each in its own folder), and what its endpoints share: the upload
/// limits, reading a JSON body, names checked, and every failure an RFC 7807 problem.
/// </summary>
public static class RagEndpoints
{
    public const long MaxUploadBytes = 50L * 1024 * 1024;
    public const long MaxRestoreBytes = 4L * 1024 * 1024 * 1024;

    public static void MapRagEndpoints(this WebApplication app)
    {
        app.MapClusterEndpoints();
        var collection = CollectionRef.Group(app);
        app.MapCollectionEndpoints(collection);
        collection.MapDocumentEndpoints();
        collection.MapQueryEndpoints();
        app.MapBackupEndpoints(collection);
    }

    public static async Task<(T?, ProblemHttpResult?)> ReadJson<T>(HttpRequest request) where T : class
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

    public static ProblemHttpResult? Valid(string collection) =>
        Names.IsName(collection) ? null : Problem(400, "Invalid collection name", "use " + Names.NameRule);

    public static ProblemHttpResult Problem(int status, string title, string detail) => TypedResults.Problem(statusCode: status, title: title, detail: detail);
}
