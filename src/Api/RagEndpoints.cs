using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Api.Aliases;
using RagCluster.Api.Backup;
using RagCluster.Api.Cluster;
using RagCluster.Api.Collections;
using RagCluster.Api.Documents;
using RagCluster.Api.Embeddings;
using RagCluster.Api.Querying;
using RagCluster.Grains.Interfaces.Naming;

namespace RagCluster.Api;

/// <summary>
/// The /v1 API, mapped resource by resource (each in its own folder), and what its endpoints share: the upload
/// limits, reading a JSON body, names checked, and every failure an RFC 7807 problem.
/// </summary>
public static class RagEndpoints
{
    public const long MaxUploadBytes = 50L * 1024 * 1024;
    public const long MaxRestoreBytes = 4L * 1024 * 1024 * 1024;

    public static void MapRagEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapClusterEndpoints();
        var collection = CollectionRef.Group(app);
        app.MapCollectionEndpoints(collection);
        app.MapAliasEndpoints();
        collection.MapDocumentEndpoints();
        collection.MapQueryEndpoints();
        app.MapBackupEndpoints(collection);
        app.MapEmbeddingsEndpoints();
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
            return (null, Problem(400, "Invalid JSON", JsonProblem(e, typeof(T))));
        }
        catch (InvalidOperationException)
        {
            return (null, Problem(415, "Unsupported media type", "send application/json"));
        }
    }

    /// <summary>
    /// What is wrong with a body, in the client's terms. System.Text.Json names the .NET type it was filling ("could
    /// not be converted to RagCluster.Api.Querying.SearchBody"); the client knows JSON paths and kinds, so the kind
    /// expected at the path is read off <paramref name="target"/>'s properties.
    /// </summary>
    internal static string JsonProblem(JsonException e, Type target)
    {
        if (e.Path is null || !e.Message.StartsWith("The JSON value could not be converted to ", StringComparison.Ordinal)) return e.Message;
        var type = target;
        foreach (var segment in System.Text.RegularExpressions.Regex.Matches(e.Path, @"\.(\w+)|\[(\d+)\]|\['([^']+)'\]").Select(m => m.Groups))
        {
            if (type is null) break;
            type = Nullable.GetUnderlyingType(type) ?? type;
            if (segment[2].Success) type = type.IsArray ? type.GetElementType() : type.IsGenericType ? type.GetGenericArguments()[0] : null;
            else if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>)) type = type.GetGenericArguments()[1];
            else type = type.GetProperties().FirstOrDefault(p => string.Equals(p.Name, segment[1].Success ? segment[1].Value : segment[3].Value, StringComparison.OrdinalIgnoreCase))?.PropertyType;
        }
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        var kind = type switch
        {
            null => null,
            _ when type == typeof(string) => "a string",
            _ when type == typeof(bool) => "true or false",
            _ when type.IsPrimitive || type == typeof(decimal) => "a number",
            _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "a date and time (ISO 8601)",
            _ when type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) => "an object",
            _ when type.IsArray || typeof(System.Collections.IEnumerable).IsAssignableFrom(type) => "an array",
            _ => "an object",
        };
        var where = e.Path == "$" ? "the body" : $"the value at {e.Path}";
        return kind is null ? $"{where} is not of the kind expected there" : $"{where} must be {kind}";
    }

    public static ProblemHttpResult? Valid(string collection) =>
        Names.IsName(collection) ? null : Problem(400, "Invalid collection name", "use " + Names.NameRule);

    public static ProblemHttpResult Problem(int status, string title, string detail) => TypedResults.Problem(statusCode: status, title: title, detail: detail);
}
