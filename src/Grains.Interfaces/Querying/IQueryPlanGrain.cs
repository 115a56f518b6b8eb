namespace RagCluster.Grains.Interfaces.Querying;

/// <summary>Key: collection name. Runs queries (candidate plans, fan-out, fusion) and learns which plan wins.</summary>
[Alias("rc.IQueryPlanGrain")]
public interface IQueryPlanGrain : IGrainWithStringKey
{
    /// <summary>A search; cancelling <paramref name="cancellationToken"/> (the HTTP request went away) stops it where it waits.</summary>
    Task<SearchResponse> Search(SearchRequest request, CancellationToken cancellationToken = default);
    /// <summary>A question: its search, then the sentences of the hits that answer it best, chosen by meaning.</summary>
    Task<AskResponse> Ask(AskRequest request, CancellationToken cancellationToken = default);
    Task<PlanStats> GetStats();
}
