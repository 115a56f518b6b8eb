namespace RagCluster.Grains.Interfaces.Security;

/// <summary>Key: "bootstrap". Issues the first admin key once per cluster when none is configured.</summary>
[Alias("rc.IBootstrapGrain")]
public interface IBootstrapGrain : IGrainWithStringKey
{
    /// <summary>A new admin key (secret included) the first time it is called in the cluster's life; null after.</summary>
    Task<ApiKeyInfo?> IssueOnce(string tenant);
}
