using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;

namespace RagCluster.Api.OpenApi;

/// <summary>
/// The API description at /openapi/v1.json (anonymous: it says what exists, not what any tenant holds). Endpoints
/// declare their own bodies and problems; here the key scheme, which operations need it, and the problems every
/// endpoint can answer whatever it does (401/403 without a fitting key, 429 past the rate limit, 503 while the
/// cluster or its store cannot take the request, 500 with a trace id for anything unforeseen).
/// </summary>
public static class ApiDocument
{
    public const string Path = "/openapi/v1.json";

    /// <summary>Where the interactive reference (Scalar) lives; it reads <see cref="Path"/>.</summary>
    public const string ReferencePath = "/docs/api";
    /// <summary>The security scheme the document declares: the X-Api-Key header.</summary>
    public const string KeyScheme = "ApiKey";

    /// <summary>The operations' groups (each endpoint names its own with [Tags]), in reading order.</summary>
    private static readonly (string Name, string Description)[] Tags =
    [
        ("Collections", "Create, configure (reshard), read and delete collections; their document ids, shards and query plans"),
        ("Documents", "Add, replace, read and delete documents: one, a batch, a file, or chunks with their own vectors"),
        ("Search and ask", "Vector, BM25 and hybrid search; answers with citations, streamed if asked"),
        ("Backup", "A collection as an archive, and back"),
        ("Admin", "API keys and the audit trail of a tenant (operators: every tenant)"),
        ("Embeddings", "Texts embedded with the cluster's model, in OpenAI's shape"),
        ("Cluster", "Membership, placement, caches, embedding silos and the dashboard's data"),
        ("Health", "Probes for orchestrators: anonymous and never rate limited"),
    ];

    private static IEnumerable<string> RouteParameters(string? path) =>
        System.Text.RegularExpressions.Regex.Matches(path ?? "", @"\{([A-Za-z]+)[^}]*\}").Select(m => m.Groups[1].Value);

    public static IServiceCollection AddRagOpenApi(this IServiceCollection services) => services.AddOpenApi(o =>
    {
        o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "RagCluster";
            document.Info.Description = "Collections of documents, indexed into shards across an Orleans cluster; search and ask with citations. Every error is an RFC 7807 problem.";
            // The server as the request reached it, without the trailing slash that would double up before every path.
            foreach (var server in document.Servers ?? []) server.Url = server.Url?.TrimEnd('/');
            document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[KeyScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "X-Api-Key",
                Description = "An API key (rck_…); also accepted as 'Authorization: Bearer KEY'. Roles: reader, writer, admin (its own tenant), operator (the whole cluster).",
            };
            return Task.CompletedTask;
        });
        // A problem carries extensions beside the RFC 7807 members: traceId always (to find the failure in the logs), others by kind.
        o.AddSchemaTransformer((schema, context, _) =>
        {
            if (Examples.For(context.JsonTypeInfo.Type) is { } example) schema.Examples = [example];
            if (context.JsonTypeInfo.Type != typeof(Microsoft.AspNetCore.Mvc.ProblemDetails)) return Task.CompletedTask;
            schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
            schema.Properties["traceId"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The request's trace id" };
            schema.AdditionalProperties = new OpenApiSchema();
            return Task.CompletedTask;
        });
        o.AddOperationTransformer(async (operation, context, ct) =>
        {
            // A schema as a named component and a reference to it, not an inline copy: a generated client gets one
            // type of that name (CreateCollectionRequest, BatchAccepted) instead of one per operation.
            async Task<IOpenApiSchema> NamedAsync(Type type)
            {
                context.Document!.AddComponent<IOpenApiSchema>(type.Name, await context.GetOrCreateSchemaAsync(type, null, ct));
                return new OpenApiSchemaReference(type.Name, context.Document);
            }

            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            var anonymous = metadata.OfType<IAllowAnonymous>().Any();
            var policy = metadata.OfType<IAuthorizeData>().LastOrDefault(a => a.Policy is not null)?.Policy;
            // Route values bound by a type of ours (the collection's CollectionRef) are path parameters all the same.
            operation.Parameters ??= [];
            foreach (var name in RouteParameters(context.Description.RelativePath))
                if (!operation.Parameters.Any(p => p.In == ParameterLocation.Path && p.Name == name))
                    operation.Parameters.Add(new OpenApiParameter { Name = name, In = ParameterLocation.Path, Required = true, Schema = new OpenApiSchema { Type = JsonSchemaType.String } });
            if (anonymous) operation.Security = []; // said outright: no key needed
            else
            {
                operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(KeyScheme, context.Document)] = [] }];
                if (policy is not null) operation.Description = $"Role: {policy}.{(operation.Description is { } d ? " " + d : "")}";
            }
            operation.Responses ??= new OpenApiResponses();
            var problems = anonymous
                ? new[] { (429, "Too many requests (see Retry-After)"), (500, "Unexpected failure (the problem carries a trace id)"), (503, "The cluster or its store cannot take the request now (see Retry-After)") }
                : [(401, "No valid API key"), (403, "The key's role or tenant may not do this"), (429, "Too many requests (see Retry-After)"),
                   (500, "Unexpected failure (the problem carries a trace id)"), (503, "The cluster or its store cannot take the request now (see Retry-After)")];
            foreach (var (status, description) in problems)
            {
                var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (operation.Responses.ContainsKey(key)) continue;
                operation.Responses[key] = new OpenApiResponse
                {
                    Description = description,
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference("ProblemDetails", context.Document) },
                    },
                };
            }
            // The request bodies a handler reads itself.
            var bodies = metadata.OfType<RequestBody>().ToList();
            if (bodies.Count > 0)
            {
                var content = new Dictionary<string, OpenApiMediaType>();
                foreach (var body in bodies)
                    content[body.ContentType] = new() { Schema = body.Type == typeof(Stream) ? new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } : await NamedAsync(body.Type) };
                operation.RequestBody = new OpenApiRequestBody { Required = true, Content = content };
            }
            // A typed-results union keeps one body type per status; an endpoint that answers one of several says so.
            foreach (var oneOf in metadata.OfType<OneOfResponse>())
            {
                var options = new List<IOpenApiSchema>();
                foreach (var type in oneOf.Types) options.Add(await NamedAsync(type));
                operation.Responses[oneOf.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new OpenApiResponse
                {
                    Description = oneOf.Description,
                    Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = new OpenApiSchema { OneOf = options } } },
                };
            }
        });
    });
}

/// <summary>
/// Endpoint metadata: a request body the handler reads itself. (ASP.NET Core's Accepts would also make routing refuse
/// other content types with a bare 415 before the handler can answer with a problem that says what to send.)
/// </summary>
public sealed record RequestBody(string ContentType, Type Type);

public static class RequestBodyExtensions
{
    public static RouteHandlerBuilder Reads<T>(this RouteHandlerBuilder builder, string contentType) => builder.WithMetadata(new RequestBody(contentType, typeof(T)));
}

/// <summary>Endpoint metadata: the body of <see cref="StatusCode"/> is one of <see cref="Types"/>.</summary>
public sealed record OneOfResponse(int StatusCode, string Description, params Type[] Types);
