using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using RagCluster.Api.Documents;
using RagCluster.Grains.Interfaces.Naming;

namespace RagCluster.Api.Mcp;

/// <summary>The caller's collections.</summary>
public sealed record CollectionList([property: Description("The collections, by name; pass a name as 'collection' to the other tools.")] CollectionSummary[] Collections);

/// <summary>One collection: its name, how many documents it holds, and whether it takes text.</summary>
public sealed record CollectionSummary(
    string Name,
    [property: Description("Documents in the collection; absent where the collection has an access field and this key does not see every document.")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Documents,
    [property: Description("Set when the collection holds vectors its owner brings (of this many dimensions): it is searched, but add_documents cannot add text to it.")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? OwnVectorDimensions = null);

/// <summary>A document for add_documents: text in one of the text formats (files go through the HTTP API).</summary>
public sealed record TextDocument(
    [property: Description("The document's id in the collection, " + Names.DocumentIdRule + "; an existing id is replaced.")] string Id,
    [property: Description("The document's text.")] string Text,
    [property: Description("Tags to filter searches on, by name: a string, number, boolean, datetime (ISO 8601 with an offset) or array of strings each.")] Dictionary<string, JsonElement>? Tags = null,
    [property: Description("txt (the default), md, html or json: how the text is split into chunks.")] string? Format = null)
{
    public DocumentInput AsInput() => new(Id, Text, Tags, Format);
}

/// <summary>A document as read_document finds it: its indexing status, and its chunks once indexed.</summary>
public sealed record DocumentRead(
    string DocumentId,
    [property: Description("accepted or pending (stored, being indexed), indexed, or failed (see error).")] string Status,
    long Version,
    Dictionary<string, object> Tags,
    [property: Description("The document's text as indexed, chunk by chunk in order (neighbouring chunks may overlap).")] ChunkText[] Chunks,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Waiting = null);

/// <summary>One chunk's text, its span in the document and its heading path.</summary>
public sealed record ChunkText(string ChunkId, string Text, int Start, int End, string[] HeadingPath);
