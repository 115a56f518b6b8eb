namespace RagCluster.Resilience;

/// <summary>The two settings waiting on a grain reads (bound from "Query" by the grains' query options).</summary>
public interface IPatienceSettings
{
    /// <summary>How long a request waits on a call that answers in a millisecond when all is well.</summary>
    double PatienceMs { get; }

    /// <summary>How old a last known answer may be to stand in for a grain that does not answer now.</summary>
    double LastKnownForSeconds { get; }
}
