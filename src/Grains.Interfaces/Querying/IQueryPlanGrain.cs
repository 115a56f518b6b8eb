namespace RagCluster.Grains.Interfaces.Querying;

/// <summary>Key: the collection's key. Plans and runs each query: its cache tiers, the embedding, the fan-out to one copy of each shard, the fusion.</summary>
[Alias("rc.IQueryPlanGrain")]
public interface IQueryPlanGrain : IGrainWithStringKey
{
    /// <summary>A search; cancelling <paramref name="cancellationToken"/> (the HTTP request went away) stops it where it waits.</summary>
    Task<SearchResponse> Search(SearchRequest request, CancellationToken cancellationToken = default);
    /// <summary>A question: its search, then the sentences of the hits that answer it best, chosen by meaning.</summary>
    Task<AskResponse> Ask(AskRequest request, CancellationToken cancellationToken = default);
    Task<PlanStats> GetStats();
}
