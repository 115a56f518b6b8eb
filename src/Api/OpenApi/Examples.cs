using System.Text.Json.Nodes;
using RagCluster.Api.Admin;
using RagCluster.Api.Collections;
using RagCluster.Api.Documents;
using RagCluster.Api.Querying;

namespace RagCluster.Api.OpenApi;

/// <summary>
/// Examples of the main flows' bodies, shown by the reference and by generators' docs. A contract test sends each
/// request example to a running server and checks every example against its schema, so none can drift into fiction.
/// </summary>
public static class Examples
{
    private static readonly Dictionary<Type, string> ByType = new()
    {
        [typeof(CreateCollectionRequest)] = """{"name":"kb","shardCount":4}""",
        [typeof(ConfigureCollectionRequest)] = """{"shardCount":8}""",
        [typeof(IngestBody)] = """{"id":"tea","text":"Green tea is brewed at about 80 degrees Celsius for two minutes.","tags":{"lang":"en"}}""",
        [typeof(StatusesRequest)] = """{"ids":["tea","coffee"]}""",
        [typeof(SearchBody)] = """{"query":"green tea temperature","topK":5,"filter":{"lang":"en"}}""",
        [typeof(AskBody)] = """{"question":"At what temperature is green tea brewed?","topK":3}""",
        [typeof(CreateKeyRequest)] = """{"role":"writer","description":"nightly ingest job"}""",
        [typeof(DocumentAccepted)] = """{"documentId":"tea","status":"pending","version":1}""",
        [typeof(SearchHitReply)] = """{"documentId":"tea","chunkId":"tea#0","text":"Green tea is brewed at about 80 degrees Celsius for two minutes.","score":0.032,"start":0,"end":64,"headingPath":[]}""",
        [typeof(CitationReply)] = """{"number":1,"documentId":"tea","chunkId":"tea#0","start":0,"end":64,"score":0.032,"quote":"Green tea is brewed at about 80 degrees Celsius for two minutes."}""",
    };

    /// <summary>The example of <paramref name="type"/>'s schema, a new node each time (a document owns its nodes).</summary>
    public static JsonNode? For(Type type) => ByType.TryGetValue(type, out var json) ? JsonNode.Parse(json) : null;
}
