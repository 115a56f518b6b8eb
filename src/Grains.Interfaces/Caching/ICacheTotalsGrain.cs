namespace RagCluster.Grains.Interfaces.Caching;

/// <summary>Key: any (the API uses "totals"). The query cache's counters for the operator's views; a local stateless worker, so L1 is the asking silo's.</summary>
[Alias("rc.ICacheTotalsGrain")]
public interface ICacheTotalsGrain : IGrainWithStringKey
{
    Task<CacheTotals> Totals();
}
