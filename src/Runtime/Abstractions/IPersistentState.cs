namespace RagCluster.Runtime;

/// <summary>
/// A grain's durable state. Writes are conditional on <see cref="ETag"/>: a write based on a stale read
/// throws <see cref="InconsistentStateException"/> instead of overwriting newer data.
/// </summary>
public interface IPersistentState<TState> where TState : new()
{
    TState State { get; set; }
    /// <summary>Version token of the last read or write; null when nothing is stored.</summary>
    string? ETag { get; }
    bool RecordExists { get; }
    Task ReadStateAsync(CancellationToken cancellationToken = default);
    Task WriteStateAsync(CancellationToken cancellationToken = default);
    Task ClearStateAsync(CancellationToken cancellationToken = default);
}
