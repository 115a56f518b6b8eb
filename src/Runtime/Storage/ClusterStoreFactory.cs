namespace RagCluster.Runtime.Storage;

/// <summary>Turns the configured storage string into a store: <c>sqlite:PATH</c>, <c>memory</c>, or a PostgreSQL connection string.</summary>
public static class ClusterStoreFactory
{
    public static IClusterStore Create(string storage, string clusterId, string serviceId)
    {
        if (string.IsNullOrWhiteSpace(storage)) throw new ArgumentException("storage is empty: use sqlite:PATH, memory, or a PostgreSQL connection string");
        if (storage.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = storage["sqlite:".Length..];
            if (path.Length == 0) throw new ArgumentException("sqlite: needs a file path, e.g. sqlite:./data/ragcluster.db");
            return new SqliteClusterStore(path, clusterId, serviceId);
        }
        if (storage.Equals("memory", StringComparison.OrdinalIgnoreCase)) return new InMemoryClusterStore();
        if (storage.Contains("Host=", StringComparison.OrdinalIgnoreCase) || storage.StartsWith("postgres", StringComparison.OrdinalIgnoreCase))
            return new PostgresClusterStore(storage.StartsWith("postgres:", StringComparison.OrdinalIgnoreCase) ? storage["postgres:".Length..] : storage, clusterId, serviceId);
        throw new ArgumentException($"unrecognised storage '{storage}': use sqlite:PATH, memory, or a PostgreSQL connection string (Host=...;Username=...;Database=...)");
    }
}
