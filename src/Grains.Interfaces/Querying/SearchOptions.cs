namespace RagCluster.Grains.Interfaces.Querying;

/// <summary>The words a search request's options take, named once: the request checks them (<see cref="SearchRequest.Problem"/>) and the grains act on them.</summary>
public static class SearchOptions
{
    /// <summary>The plans a caller may name; <see cref="Auto"/> (or none) lets the planner choose.</summary>
    public static readonly string[] Plans = ["vector", "bm25", "hybrid", "hybrid-k10", "hybrid-rrf"];
    public const string Auto = "auto";
    /// <summary>The hybrid plan's fusions: reciprocal rank fusion, or relative score fusion (the default).</summary>
    public const string Reciprocal = "rrf", Relative = "relative";
    /// <summary>The one grouping a search offers: documents, each with its best chunks.</summary>
    public const string GroupByDocument = "document";
    /// <summary>Which copies may answer: any (the default) or the primaries, which hold every acknowledged write.</summary>
    public const string AnyCopy = "any", PrimaryCopy = "primary";
}
