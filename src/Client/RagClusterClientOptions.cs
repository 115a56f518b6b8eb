namespace RagCluster.Client;

/// <summary>How the client talks to the API: its key, and how it treats a request the API asks to be sent again later.</summary>
public sealed class RagClusterClientOptions
{
    /// <summary>Sent as X-Api-Key on every request (rck_…).</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// How many times a request refused with 429 or 503 is sent again, each after the Retry-After the API named (1 s
    /// when it named none). The API keeps nothing of a request it refuses so, so sending it again is safe. 0: never.
    /// </summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>The longest one Retry-After wait may be; a refusal asking for longer goes to the caller at once.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);
}
