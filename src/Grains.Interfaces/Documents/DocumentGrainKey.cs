namespace RagCluster.Grains.Interfaces.Documents;

/// <summary>A document grain's key, "collection/documentId" (a collection key holds no '/'), spelled once.</summary>
public static class DocumentGrainKey
{
    public static IDocumentGrain Document(this IGrainFactory grains, string collectionKey, string documentId) =>
        grains.GetGrain<IDocumentGrain>(Of(collectionKey, documentId));

    public static string Of(string collectionKey, string documentId) => $"{collectionKey}/{documentId}";

    public static (string CollectionKey, string DocumentId) Parse(string key)
    {
        var slash = key.IndexOf('/');
        return (key[..slash], key[(slash + 1)..]);
    }
}
