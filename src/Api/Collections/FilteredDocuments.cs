using Microsoft.AspNetCore.Http.HttpResults;
using RagCluster.Grains.Interfaces.Collections;
using RagCluster.Grains.Interfaces.Indexing;
using RagCluster.Grains.Interfaces.Metadata;
using RagCluster.Grains.Interfaces.Security;

namespace RagCluster.Api.Collections;

/// <summary>A page of a collection's document ids in id order, all of them or those a filter matches (the listing and statuses routes).</summary>
internal static class FilteredDocuments
{
    /// <summary>
    /// Without a filter (or with one that matches everything) the registry's page; with one, the documents the index holds
    /// with a chunk it matches, from each shard's tag index, merged. Next is the last id when the page is full. In a
    /// collection with an access field, a caller who does not see every document gets the documents its groups see:
    /// the trim joins the filter, so the tag index answers (never the registry, which lists every document).
    /// </summary>
    public static async Task<(string[] Ids, string? Next, ProblemHttpResult? Problem)> PageAsync(IGrainFactory grains, CollectionRef c, string? filter, string? after, int take)
    {
        var collection = grains.GetGrain<ICollectionGrain>(c.Key);
        var settings = await collection.GetSettings();
        var (term, problem) = FilterParser.Parse(filter, settings.Fields);
        if (problem is not null) return ([], null, RagEndpoints.Problem(400, "Invalid request", problem));
        var access = DocumentAccess.For(settings.AccessField, c.Access);
        if (access.Nothing) return ([], null, null);
        term = access.Trim(term);
        if (term is not null)
        {
            var canonical = FilterParser.Canonical(term);
            var pages = await Task.WhenAll(settings.Layout.ShardKeys(c.Key).Select(k => grains.GetGrain<IIndexShardGrain>(k).MatchingDocuments(canonical, after, take)));
            var ids = pages.SelectMany(p => p).Distinct().Order(StringComparer.Ordinal).Take(take).ToArray();
            return (ids, ids.Length == take ? ids[^1] : null, null);
        }
        var page = await collection.ListDocuments(after, take);
        return (page.DocumentIds, page.Next, null);
    }
}
