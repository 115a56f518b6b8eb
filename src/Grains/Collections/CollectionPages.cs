using RagCluster.Grains.Interfaces.Collections;

namespace RagCluster.Grains.Collections;

public static class CollectionPages
{
    /// <summary>Every registered document id, a page at a time (a page's ids may be deleted while the next is read).</summary>
    public static async IAsyncEnumerable<string[]> DocumentPagesAsync(this ICollectionGrain collection, int pageSize = 1000)
    {
        for (string? after = null; ;)
        {
            var page = await collection.ListDocuments(after, pageSize);
            if (page.DocumentIds.Length > 0) yield return page.DocumentIds;
            if (page.Next is null) yield break;
            after = page.Next;
        }
    }
}
